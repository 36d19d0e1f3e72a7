package adaptertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Check holds what a channel promises of every event list its Parse
// returns; it reports through t. It usually calls CheckEvents and adds
// the channel's own rules (id scheme, bot id, channel id form).
type Check func(t testing.TB, evs []normalize.Event)

// CheckEvents checks what holds for every event any adapter emits: an
// id, a type and the channel, the id prefixed with "<channel>:", a bot id,
// a response path that matches bot and channel id (and none without a
// channel id), metadata that is a JSON object, and valid canonical JSON.
func CheckEvents(t testing.TB, channel string, evs []normalize.Event) {
	t.Helper()
	for i := range evs {
		e := &evs[i]
		if e.ID == "" || e.Type == "" || e.Channel != channel {
			t.Errorf("event %d lacks id/type/channel: %+v", i, e)
		}
		if !strings.HasPrefix(e.ID, channel+":") {
			t.Errorf("event %d id %q lacks the channel prefix", i, e.ID)
		}
		if e.BotID == "" {
			t.Errorf("event %d has no bot id", i)
		}
		if e.ChannelID != "" && string(normalize.BuildResponsePath(e.BotID, e.ChannelID)) != e.ResponsePath {
			t.Errorf("event %d response path %q, want %q", i, e.ResponsePath, normalize.BuildResponsePath(e.BotID, e.ChannelID))
		}
		if e.ChannelID == "" && e.ResponsePath != "" {
			t.Errorf("event %d has a path but no channel id", i)
		}
		if len(e.Metadata) > 0 && (!json.Valid(e.Metadata) || e.Metadata[0] != '{') {
			t.Errorf("event %d metadata is not a JSON object: %s", i, e.Metadata)
		}
		if !json.Valid(e.AppendJSON(nil)) {
			t.Errorf("event %d encodes to invalid JSON: %s", i, e.AppendJSON(nil))
		}
	}
}

// Refusal is a body Parse must refuse with Code, its message containing
// Msg.
// It is an alias of an unnamed struct so that tables may list cases
// positionally, {"name", body, "code", "msg"}, without vet's complaint
// about unkeyed fields of an imported type.
type Refusal = struct {
	Name, Body, Code, Msg string
}

// Refuses runs Parse on every refusal: each must be an
// *adapters.InputError with the code and message wanted, leaving dst as
// it was.
func Refuses(t *testing.T, a adapters.Inbound, tests []Refusal) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			dst := make([]normalize.Event, 1, 4)
			got, err := a.Parse(dst, []byte(tt.Body))
			var ie *adapters.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v (%T), want *adapters.InputError; events %+v", err, err, got)
			}
			if ie.Code != tt.Code {
				t.Errorf("code = %s, want %s (%v)", ie.Code, tt.Code, err)
			}
			if !strings.Contains(ie.Msg, tt.Msg) {
				t.Errorf("message %q does not mention %q", ie.Msg, tt.Msg)
			}
			if len(got) != 1 {
				t.Errorf("refused body left %d events in dst", len(got))
			}
		})
	}
}

// Acceptance is an odd but acceptable body: N events, the first of Type
// (when N > 0 and Type is set).
// Like Refusal, an alias of an unnamed struct, for positional tables.
type Acceptance = struct {
	Name, Body string
	N          int
	Type       normalize.EventType
}

// Accepts runs Parse on every acceptance and checks the events.
func Accepts(t *testing.T, a adapters.Inbound, tests []Acceptance, check Check) {
	for _, tt := range tests {
		t.Run(tt.Name, func(t *testing.T) {
			evs, err := a.Parse(nil, []byte(tt.Body))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if len(evs) != tt.N {
				t.Fatalf("got %d events, want %d", len(evs), tt.N)
			}
			if tt.N > 0 && tt.Type != "" && evs[0].Type != tt.Type {
				t.Errorf("type = %s, want %s", evs[0].Type, tt.Type)
			}
			check(t, evs)
		})
	}
}

// NoAlias checks that events own their memory: for every fixture,
// scribbling over the body (fasthttp reuses it) or parsing another body
// (other) changes nothing in the events parsed from it.
func NoAlias(t *testing.T, a adapters.Inbound, other []byte) {
	for _, f := range Fixtures(t) {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := a.Parse(nil, body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		before := EncodeEvents(t, evs)
		for i := range body {
			body[i] = 'X'
		}
		if _, err := a.Parse(nil, bytes.Clone(other)); err != nil {
			t.Fatal(err)
		}
		if after := EncodeEvents(t, evs); !bytes.Equal(before, after) {
			t.Fatalf("%s: events changed after the body was reused:\n%s\nvs\n%s", f, before, after)
		}
	}
}

// StableIDs checks that parsing a fixture twice gives the same ids.
func StableIDs(t *testing.T, a adapters.Inbound) {
	for _, f := range Fixtures(t) {
		body, _ := os.ReadFile(f)
		e1, err1 := a.Parse(nil, body)
		e2, err2 := a.Parse(nil, bytes.Clone(body))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", f, err1, err2)
		}
		for i := range e1 {
			if e1[i].ID != e2[i].ID {
				t.Errorf("%s: event %d id %q then %q", f, i, e1[i].ID, e2[i].ID)
			}
		}
	}
}
