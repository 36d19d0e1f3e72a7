package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// OutCase is testdata/outbound/<case>.json: whom to send to and what.
// Channels whose cases say more embed it in their own case type.
type OutCase struct {
	Recipient struct {
		BotID     string `json:"bot_id"`
		ChannelID string `json:"channel_id"`
		OTNToken  string `json:"otn_token"`
		Response  bool   `json:"response"`
	} `json:"recipient"`
	Reply normalize.Reply `json:"reply"`
}

// To is the case's recipient.
func (c *OutCase) To() adapters.Recipient {
	return adapters.Recipient{BotID: c.Recipient.BotID, ChannelID: c.Recipient.ChannelID, OTNToken: c.Recipient.OTNToken, Response: c.Recipient.Response}
}

// OutCases lists the case names of testdata/outbound.
func OutCases(t testing.TB) []string {
	t.Helper()
	files := cases(t, "outbound")
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(filepath.Base(f), ".json")
	}
	return names
}

// ReadOutCase reads testdata/outbound/<name>.json strictly into an
// OutCase.
func ReadOutCase(t testing.TB, name string) *OutCase {
	t.Helper()
	return ReadOutCaseAs[OutCase](t, name)
}

// ReadOutCaseAs reads testdata/outbound/<name>.json into a channel's own
// case type C, refusing members C does not name: a case cannot say what
// its test ignores.
func ReadOutCaseAs[C any](t testing.TB, name string) *C {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata/outbound", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c C
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c
}

// OutGolden runs build for every testdata/outbound case, in a subtest of
// the case's name, and compares what it returns, encoded by EncodeGolden,
// with <case>.golden.json (or writes it there under -update).
func OutGolden(t *testing.T, build func(t *testing.T, name string) any) {
	for _, name := range OutCases(t) {
		t.Run(name, func(t *testing.T) {
			got := EncodeGolden(t, build(t, name))
			CompareGolden(t, filepath.Join("testdata/outbound", name+".golden.json"), got)
		})
	}
}

// KeepsReply snapshots r; the function it returns reports an error when
// r has changed since (Render must never modify the reply).
func KeepsReply(t testing.TB, r *normalize.Reply) func() {
	t.Helper()
	before := replyJSON(t, r)
	return func() {
		t.Helper()
		if after := replyJSON(t, r); after != before {
			t.Errorf("Render modified the reply:\nbefore %s\nafter  %s", before, after)
		}
	}
}

func replyJSON(t testing.TB, r *normalize.Reply) string {
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// RoundTrip decodes body strictly into v and checks that encoding/json
// writes v back as body: the wire types name every member rendered, and
// their json tags are a true description of the wire format.
func RoundTrip(t testing.TB, name string, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Errorf("%s: %v\n%s", name, err, body)
		return
	}
	want, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Errorf("%s:\nrendered      %s\nencoding/json %s", name, body, want)
	}
}

// APIError is err as the *adapters.APIError a failed Send must return.
func APIError(t testing.TB, err error) *adapters.APIError {
	t.Helper()
	var ae *adapters.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %T %v, want *adapters.APIError", err, err)
	}
	return ae
}

// PlainDoer is a client without DoDeadline, so that an adapter falls back
// to Do and the client's own timeouts.
type PlainDoer struct{ Client *fasthttp.Client }

// Do performs the exchange with Client.
func (p PlainDoer) Do(req *fasthttp.Request, resp *fasthttp.Response) error {
	return p.Client.Do(req, resp)
}

// NetworkErrors runs the subtests of a Send that gets no answer, each a
// transient *adapters.APIError: "timeout" (setLatency makes the mock API
// answer a's call after 300 ms; the context allows 50 ms), "cancelled" (a
// context cancelled before the call) and "refused" (closed, an adapter
// sending to a closed port, fails with network or timeout, its error
// showing nothing of secret).
func NetworkErrors(t *testing.T, a, closed adapters.Outbound, to adapters.Recipient, setLatency func(time.Duration), secret string) {
	t.Run("timeout", func(t *testing.T) {
		setLatency(300 * time.Millisecond)
		defer setLatency(0)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := a.Send(ctx, to, &normalize.Reply{Text: "slow"})
		if ae := APIError(t, err); ae.Class != adapters.ClassTransient || ae.Code != "timeout" {
			t.Errorf("got %v %q", ae.Class, ae.Code)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := a.Send(ctx, to, &normalize.Reply{Text: "x"})
		if ae := APIError(t, err); ae.Class != adapters.ClassTransient || ae.Code != "canceled" {
			t.Errorf("got %v %q", ae.Class, ae.Code)
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, err := closed.Send(context.Background(), to, &normalize.Reply{Text: "x"})
		if ae := APIError(t, err); ae.Class != adapters.ClassTransient || (ae.Code != "network" && ae.Code != "timeout") {
			t.Errorf("got %v %q", ae.Class, ae.Code)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the token: %v", err)
		}
	})
}
