package adapters

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// TestTruncate moved here with Truncate from adapters/meta; the cases
// after its own pin what Viber and WhatsApp relied on.
func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
		cut  bool
	}{
		{"short", 20, "short", false},
		{"Exactly twenty chars", 20, "Exactly twenty chars", false},
		{"Exactly twenty chars!", 20, "Exactly twenty char…", true},
		{"ééééééééééééééééééééé", 20, "ééééééééééééééééééé…", true},
		{"word word word word word", 11, "word word…", true},
		// Counted in runes, not bytes: 10 two-byte runes fit 10.
		{"éééééééééé", 10, "éééééééééé", false},
		{"ünïcödé wörds here", 10, "ünïcödé w…", true},
		{"trailing  spaces", 10, "trailing…", true},
		{"a\tb c d e f", 4, "a\tb…", true},
		{"👋👋👋", 2, "👋…", true},
		{"ab", 1, "…", true},
		{"", 1, "", false},
	}
	for _, tt := range tests {
		got, cut := Truncate(tt.in, tt.n)
		if got != tt.want || cut != tt.cut {
			t.Errorf("Truncate(%q, %d) = %q %v, want %q %v", tt.in, tt.n, got, cut, tt.want, tt.cut)
		}
		if n := utf8.RuneCountInString(got); n > tt.n {
			t.Errorf("Truncate(%q, %d) has %d characters", tt.in, tt.n, n)
		}
	}
}

func TestIsWebURL(t *testing.T) {
	accepts(t, "IsWebURL", IsWebURL,
		[]string{"https://example.com", "http://example.com/a?b=c#d", "https://x", "https://:443/x", "https://user@host/", "https://example.com/%zz", "https://日本.example/"},
		[]string{"", "example.com", "ftp://example.com", "HTTPS://example.com", "https://", "http://", "https:///path", "https:/x",
			"https://exa mple.com", "https://example.com/a\tb", "https://example.com\n", "https://example.com/\x7f", "https://example.com/\x00", " https://example.com", "tg://resolve"})
}

func TestIsE164(t *testing.T) {
	accepts(t, "IsE164", IsE164,
		[]string{"+1650555", "+16505551234", "+447700900123", "+123456789012345"},
		[]string{"", "+", "+165055", "+1234567890123456", "16505551234", "++16505551234", "+1 650 555 1234", "+1-650-555-1234", "+1650555123a", "+١٢٣٤٥٦٧٨"})
}

// accepts checks that f holds for every string of ok and for none of bad.
func accepts(t *testing.T, name string, f func(string) bool, ok, bad []string) {
	t.Helper()
	for _, s := range ok {
		if !f(s) {
			t.Errorf("%s(%q) = false", name, s)
		}
	}
	for _, s := range bad {
		if f(s) {
			t.Errorf("%s(%q) = true", name, s)
		}
	}
}

func TestMergePatch(t *testing.T) {
	tests := []struct{ target, patch, want string }{
		// RFC 7386 appendix A, members sorted as encoding/json writes them.
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		// Our bodies: members sorted, strings in encoding/json's escapes.
		{`{"z":1,"text":"a<b"}`, `{"m":{"x":true}}`, `{"m":{"x":true},"text":"a\u003cb","z":1}`},
	}
	for _, tt := range tests {
		got, err := MergePatch(json.RawMessage(tt.target), json.RawMessage(tt.patch))
		if err != nil || string(got) != tt.want {
			t.Errorf("MergePatch(%s, %s) = %s, %v; want %s", tt.target, tt.patch, got, err, tt.want)
		}
	}
}
