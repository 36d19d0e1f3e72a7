package metatest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// OutCase is testdata/outbound/<case>.json: whom to send to and what.
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

// outGolden is testdata/outbound/<case>.golden.json.
type outGolden struct {
	Path     string          `json:"path,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
	Degraded []string        `json:"degraded,omitempty"`
	Error    *outGoldenError `json:"error,omitempty"`
}

type outGoldenError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// OutCases lists the case names of testdata/outbound.
func OutCases(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/outbound/*.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
		}
	}
	if len(names) == 0 {
		t.Fatal("no outbound cases")
	}
	return names
}

// ReadOutCase reads testdata/outbound/<name>.json strictly.
func ReadOutCase(t testing.TB, name string) *OutCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata/outbound", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c OutCase
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c
}

// RenderFunc is an adapter's Render.
type RenderFunc func(dst []byte, to adapters.Recipient, r *normalize.Reply) (body []byte, path string, degraded []string, err error)

// RenderGolden renders every testdata/outbound case and compares the
// path, exact body and degradations (or the error) with its golden file,
// or rewrites it under -update. It also checks that Render keeps dst,
// leaves the reply alone and appends nothing on error.
func RenderGolden(t *testing.T, render RenderFunc) {
	for _, name := range OutCases(t) {
		t.Run(name, func(t *testing.T) {
			c := ReadOutCase(t, name)
			before := replyJSON(t, &c.Reply)
			body, path, degraded, err := render([]byte("prefix:"), c.To(), &c.Reply)
			if !bytes.HasPrefix(body, []byte("prefix:")) {
				t.Fatalf("Render dropped dst: %q", body)
			}
			body = body[len("prefix:"):]
			if after := replyJSON(t, &c.Reply); after != before {
				t.Errorf("Render modified the reply:\nbefore %s\nafter  %s", before, after)
			}

			var got outGolden
			if err != nil {
				var re *adapters.RenderError
				if !errors.As(err, &re) {
					t.Fatalf("error %T %v, want *adapters.RenderError", err, err)
				}
				if len(body) != 0 {
					t.Errorf("body %q appended on error", body)
				}
				got.Error = &outGoldenError{Code: re.Code, Message: re.Msg}
			} else {
				if !json.Valid(body) {
					t.Fatalf("invalid JSON: %s", body)
				}
				got.Path, got.Body = path, body
			}
			got.Degraded = degraded
			// Keep the renderer's own escapes: no HTML escaping on top.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			out := buf.Bytes()

			file := filepath.Join("testdata/outbound", name+".golden.json")
			if *Update {
				if err := os.WriteFile(file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatalf("%v (run with -update)", rerr)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s differs (-want +got):\n%s", file, cmp.Diff(string(want), string(out)))
			}
		})
	}
}

func replyJSON(t testing.TB, r *normalize.Reply) string {
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// WireTypes checks every body rendered from the outbound cases (without
// channel_data, whose merge sorts members) against the wire types: it
// decodes strictly into meta.SendRequest (every member written is one the
// types name), and encoding/json writes the decoded struct back byte for
// byte, so the json tags are a true description of the wire format.
func WireTypes(t *testing.T, render RenderFunc) {
	for _, name := range OutCases(t) {
		c := ReadOutCase(t, name)
		if len(c.Reply.ChannelData) > 0 {
			continue
		}
		body, _, _, err := render(nil, c.To(), &c.Reply)
		if err != nil {
			continue
		}
		var req meta.SendRequest
		RoundTrip(t, name, body, &req)
	}
}

// RoundTrip decodes body strictly into v and checks that encoding/json
// writes v back as body.
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

// OutSeeds adds every outbound case file to a render fuzz target.
func OutSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/outbound/*.json")
	for _, file := range files {
		if !strings.HasSuffix(file, ".golden.json") {
			raw, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
}

// CheckRender is the body of a render fuzz target: raw is an OutCase;
// Render, sending as bot, must not panic, must fail with a
// *adapters.RenderError or render one JSON object to meta.PathMessages.
func CheckRender(t *testing.T, render RenderFunc, bot string, raw []byte) {
	var c OutCase
	if json.Unmarshal(raw, &c) != nil {
		return
	}
	to := c.To()
	to.BotID = bot
	body, path, _, err := render(nil, to, &c.Reply)
	if err != nil {
		var re *adapters.RenderError
		if !errors.As(err, &re) {
			t.Fatalf("error %T %v", err, err)
		}
		return
	}
	var m map[string]json.RawMessage
	if path != meta.PathMessages || json.Unmarshal(body, &m) != nil || m == nil {
		t.Fatalf("path %q body %s", path, body)
	}
}
