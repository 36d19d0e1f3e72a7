package traffic

import (
	"math"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("messenger:text=70, messenger:quick_reply=10,messenger:read=20")
	if err != nil {
		t.Fatal(err)
	}
	want := Mix{{"messenger", "text", 70}, {"messenger", "quick_reply", 10}, {"messenger", "read", 20}}
	if len(m) != len(want) {
		t.Fatalf("got %v", m)
	}
	for i := range want {
		if m[i] != want[i] {
			t.Fatalf("share %d = %+v, want %+v", i, m[i], want[i])
		}
	}
	if got := m.String(); got != "messenger:text=70,messenger:quick_reply=10,messenger:read=20" {
		t.Fatalf("String = %q", got)
	}
	if p := m.Percent()["messenger:read"]; p != 20 {
		t.Fatalf("percent of read = %v", p)
	}
}

func TestParseMixWeightsNeedNotSumTo100(t *testing.T) {
	m, err := ParseMix("messenger:text=3,messenger:postback=1.5")
	if err != nil {
		t.Fatal(err)
	}
	if p := m.Percent(); math.Abs(p["messenger:text"]-66.667) > 0.01 {
		t.Fatalf("percent = %v", p)
	}
}

func TestParseMixPresets(t *testing.T) {
	for name := range Presets {
		m, err := ParseMix(name)
		if err != nil {
			t.Fatalf("preset %s: %v", name, err)
		}
		if len(m) == 0 {
			t.Fatalf("preset %s is empty", name)
		}
	}
	def, err := ParseMix("")
	if err != nil {
		t.Fatal(err)
	}
	if def.String() != mustMix(t, DefaultMix).String() {
		t.Fatal("empty mix is not the default")
	}
	// The default is realistic: mostly text, and every kind present.
	p := def.Percent()
	if text := p["messenger:text"] + p["messenger:text_nlp"]; text < 50 {
		t.Fatalf("default mix has %.0f%% text", text)
	}
	for _, k := range MessengerKinds {
		if p["messenger:"+k] == 0 {
			t.Errorf("default mix lacks messenger:%s", k)
		}
	}
}

func TestParseMixErrors(t *testing.T) {
	for in, want := range map[string]string{
		"telegraph:text=1":                   "unknown channel",
		"messenger:smoke_signal=1":           "has no kind",
		"messenger:text":                     "want channel:kind=weight",
		"text=5":                             "want channel:kind=weight",
		"messenger:=5":                       "want channel:kind=weight",
		"messenger:text=0":                   "positive",
		"messenger:text=-3":                  "positive",
		"messenger:text=NaN":                 "positive",
		"messenger:text=lots":                "positive",
		"messenger:text=1,,messenger:read=1": "empty",
		"messenger:text=1,messenger:text=2":  "appears twice",
	} {
		_, err := ParseMix(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseMix(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func mustMix(t *testing.T, s string) Mix {
	t.Helper()
	m, err := ParseMix(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
