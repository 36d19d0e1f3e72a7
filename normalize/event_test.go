package normalize

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// fullEvent sets every field, nested ones included.
func fullEvent() Event {
	return Event{
		ID:           "messenger:m_AbC-123",
		Type:         TypeText,
		Channel:      "messenger",
		Connection:   "fb",
		BotID:        "1061234567890123",
		ChannelID:    "2345678901234567",
		ResponsePath: "1061234567890123/c/2345678901234567",
		Sender:       Sender{ID: "2345678901234567", Name: "Ada Lovelace", Username: "ada", Language: "en_GB"},
		VisitorID:    "v_5f1c0e",
		ProvidedID:   "user-42",
		Text:         "/start deep link",
		Payload:      "GET_STARTED",
		Command:      "start",
		Args:         "deep link",
		Attachments: []Attachment{
			{Type: "image", URL: "https://cdn.example.com/a.jpg?x=1&y=2", MediaID: "987654321", MimeType: "image/jpeg", Name: "a.jpg", Size: 123456, Caption: "a cat", StickerID: "369239263222822"},
			{Type: "location"},
		},
		Location:   &Location{Lat: 51.5007, Long: -0.1246, Name: "Big Ben", Address: "London SW1A 0AA"},
		NativeID:   "m_AbC-123",
		ReplyTo:    "m_XyZ-789",
		Timestamp:  time.Date(2024, 3, 5, 7, 8, 9, 123_000_000, time.UTC),
		Metadata:   json.RawMessage(`{"source":"ADS","ad_id":"6045246247433"}`),
		Attributes: json.RawMessage(`{"plan":"pro","seats":3,"tags":["a","b"],"nested":{"x":null}}`),
	}
}

type eventCase struct {
	name string
	e    Event
	// invalidUTF8 marks events whose strings encoding/json rewrites, so
	// the decoded event is compared with encoding/json's rendering only.
	invalidUTF8 bool
	// rawAsIs marks Metadata/Attributes that json.Marshal would compact
	// or re-escape, so the bytes are not compared with json.Marshal's.
	rawAsIs bool
}

func eventCases() []eventCase {
	ist := time.FixedZone("IST", 5*3600+30*60)
	pst := time.FixedZone("PST", -8*3600)
	return []eventCase{
		{name: "full", e: fullEvent()},
		{name: "none set", e: Event{}},
		{name: "required only", e: Event{ID: "tg:1", Type: TypeText, Channel: "telegram"}},
		{name: "unicode", e: Event{
			ID: "web:é", Type: TypeText, Channel: "web",
			Text:    "Привет 👋 世界 — ½ café ﷽",
			Sender:  Sender{Name: "José Ñúñez", Username: "jose_ñ", Language: "es"},
			Payload: "😀😃😄",
		}},
		{name: "control chars", e: Event{
			ID: "c", Type: TypeText, Channel: "web",
			Text:    "nul\x00 soh\x01 bs\b ff\f nl\n cr\r tab\t us\x1f del\x7f",
			Payload: "\"quoted\" back\\slash /slash",
		}},
		{name: "invalid UTF-8", invalidUTF8: true, e: Event{
			ID: "bad\xff", Type: TypeText, Channel: "viber",
			Text:    "a\xffb\xc3(c\xed\xa0\x80d",
			Payload: "truncated \xf0\x9f\x98",
			Sender:  Sender{Name: "\x80\x81"},
		}},
		{name: "line separators", e: Event{
			ID: "ls", Type: TypeText, Channel: "web",
			Text: "one\u2028two\u2029three \u2027\u202a",
		}},
		{name: "html", e: Event{
			ID: "<id>", Type: TypeText, Channel: "web",
			Text:    `<script>alert("x&y")</script>`,
			Payload: "a>b&&c<d",
			Attachments: []Attachment{
				{Type: "fallback", URL: "https://example.com/?a=1&b=<2>"},
			},
		}},
		{name: "64-bit ids", e: Event{
			ID: "telegram:9223372036854775807", Type: TypePostback, Channel: "telegram",
			BotID:        "7012345678",
			ChannelID:    "-1001234567890123",
			ResponsePath: "7012345678/c/-1001234567890123",
			NativeID:     "18446744073709551615",
			ReplyTo:      "9007199254740993",
			Sender:       Sender{ID: "9007199254740993"},
		}},
		{name: "location negative fractional", e: Event{
			ID: "loc1", Type: TypeLocation, Channel: "whatsapp",
			Location: &Location{Lat: -33.868820, Long: -151.20929999999998, Name: "Sydney", Address: "NSW"},
		}},
		{name: "location zero", e: Event{
			ID: "loc0", Type: TypeLocation, Channel: "telegram",
			Location: &Location{},
		}},
		{name: "location extremes", e: Event{
			ID: "loc2", Type: TypeLocation, Channel: "telegram",
			Location: &Location{Lat: 1e-7, Long: -179.99999999999997},
		}},
		{name: "location exponent", e: Event{
			ID: "loc3", Type: TypeLocation, Channel: "telegram",
			Location: &Location{Lat: 1e21, Long: -2.5e-300},
		}},
		{name: "location negative zero", e: Event{
			ID: "loc4", Type: TypeLocation, Channel: "telegram",
			Location: &Location{Lat: math.Copysign(0, -1), Long: 0.000001},
		}},
		{name: "raw metadata and attributes", e: Event{
			ID: "raw", Type: TypeReferral, Channel: "messenger",
			Metadata:   json.RawMessage(`{"referral":{"ref":"x","source":"SHORTLINK","type":"OPEN_THREAD"},"standby":true}`),
			Attributes: json.RawMessage(`[1,"two",3.5,null,false]`),
		}},
		{name: "raw with whitespace and html", rawAsIs: true, e: Event{
			ID: "raw2", Type: TypeReferral, Channel: "web",
			Metadata:   json.RawMessage("{ \"page\" : \"<a&b>\",\n \"n\": [ 1, 2 ] }"),
			Attributes: json.RawMessage(`"just a string"`),
		}},
		{name: "raw null", e: Event{
			ID: "raw3", Type: TypeHandover, Channel: "messenger",
			Metadata: json.RawMessage(`null`),
		}},
		{name: "sub-ms UTC", e: Event{
			ID: "ts1", Type: TypeRead, Channel: "messenger",
			Timestamp: time.Date(2024, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		}},
		{name: "non-UTC zone", e: Event{
			ID: "ts2", Type: TypeDelivery, Channel: "whatsapp",
			Timestamp: time.Date(2024, 1, 1, 3, 0, 0, 5_432_100, ist),
		}},
		{name: "negative zone crossing a day", e: Event{
			ID: "ts3", Type: TypeDelivery, Channel: "whatsapp",
			Timestamp: time.Date(2023, 12, 31, 20, 15, 0, 100_000_000, pst),
		}},
		{name: "whole second", e: Event{
			ID: "ts4", Type: TypeText, Channel: "viber",
			Timestamp: time.Unix(1700000000, 0).In(pst),
		}},
		{name: "monotonic clock reading", e: Event{
			ID: "ts5", Type: TypeText, Channel: "web",
			Timestamp: time.Now(),
		}},
		{name: "attachments", e: Event{
			ID: "att", Type: TypeAttachment, Channel: "whatsapp",
			Attachments: []Attachment{
				{Type: "image", MediaID: "1234567890123456", MimeType: "image/jpeg", Caption: "cap"},
				{Type: "file", URL: "https://x/y.pdf", Name: "y.pdf", Size: math.MaxInt64},
				{Type: "sticker", StickerID: "369239263222822", Size: -1},
				{},
			},
		}},
		{name: "sender id only", e: Event{ID: "s1", Type: TypeText, Channel: "telegram", Sender: Sender{ID: "42"}}},
		{name: "sender language only", e: Event{ID: "s2", Type: TypeText, Channel: "telegram", Sender: Sender{Language: "de"}}},
		{name: "empty attachments slice", e: Event{ID: "s3", Type: TypeText, Channel: "web", Attachments: []Attachment{}}},
	}
}

// compactRaw compares raw JSON by meaning: json.Marshal compacts and
// HTML-escapes a RawMessage, AppendJSON appends it as given.
var compactRaw = cmp.Comparer(func(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return cmp.Equal(va, vb)
})

// emptyAttachments equates nil and empty attachment lists: both are omitted.
var emptyAttachments = cmp.FilterValues(func(a, b []Attachment) bool { return len(a) == 0 && len(b) == 0 }, cmp.Ignore())

// truncated is e as AppendJSON promises to render it: the timestamp cut to
// milliseconds.
func truncated(e Event) Event {
	if !e.Timestamp.IsZero() {
		e.Timestamp = e.Timestamp.UTC().Truncate(time.Millisecond)
	}
	return e
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	opts := cmp.Options{compactRaw, emptyAttachments}
	for _, tc := range eventCases() {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.e.AppendJSON(nil)
			if !json.Valid(out) {
				t.Fatalf("AppendJSON produced invalid JSON: %s", out)
			}
			var got Event
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("decoding %s: %v", out, err)
			}

			// What encoding/json makes of the same event.
			want := truncated(tc.e)
			ref, err := json.Marshal(&want)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var viaStd Event
			if err := json.Unmarshal(ref, &viaStd); err != nil {
				t.Fatalf("decoding json.Marshal output: %v", err)
			}
			if diff := cmp.Diff(viaStd, got, opts); diff != "" {
				t.Errorf("decoded AppendJSON differs from decoded json.Marshal (-std +append):\n%s\nappend: %s\nstd:    %s", diff, out, ref)
			}
			if !tc.invalidUTF8 {
				if diff := cmp.Diff(want, got, opts); diff != "" {
					t.Errorf("round trip differs (-want +got):\n%s\n%s", diff, out)
				}
			}

			// Apart from the timestamp, the bytes are json.Marshal's.
			if !tc.rawAsIs {
				noTS := tc.e
				noTS.Timestamp = time.Time{}
				std, err := json.Marshal(&noTS)
				if err != nil {
					t.Fatal(err)
				}
				if got := noTS.AppendJSON(nil); !bytes.Equal(got, std) {
					t.Errorf("AppendJSON bytes differ from json.Marshal:\nappend: %s\nstd:    %s", got, std)
				}
			}

			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			ts, hasTS := m["timestamp"]
			if tc.e.Timestamp.IsZero() {
				if hasTS {
					t.Errorf("zero timestamp rendered: %s", out)
				}
				return
			}
			s, _ := ts.(string)
			if !timestampRE.MatchString(s) {
				t.Errorf("timestamp %q is not RFC 3339 UTC with 3 fractional digits", s)
			}
			if wantTS := want.Timestamp.Format("2006-01-02T15:04:05.000Z"); s != wantTS {
				t.Errorf("timestamp = %q, want %q", s, wantTS)
			}
		})
	}
}

func TestAppendJSONTimestamp(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+30*60)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 3, 5, 7, 8, 9, 123_456_789, time.UTC), "2024-03-05T07:08:09.123Z"},
		{time.Date(2024, 3, 5, 7, 8, 9, 999_999_999, time.UTC), "2024-03-05T07:08:09.999Z"},
		{time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC), "2024-03-05T07:08:09.000Z"},
		{time.Date(2024, 3, 5, 7, 8, 9, 100_000_000, time.UTC), "2024-03-05T07:08:09.100Z"},
		{time.Date(2024, 3, 5, 7, 8, 9, 999_999, time.UTC), "2024-03-05T07:08:09.000Z"},
		{time.Date(2024, 1, 1, 3, 0, 0, 5_432_100, ist), "2023-12-31T21:30:00.005Z"},
		{time.UnixMilli(1700000000123).In(time.FixedZone("", -7*3600)), "2023-11-14T22:13:20.123Z"},
		{time.Unix(0, 1), "1970-01-01T00:00:00.000Z"},
	}
	for _, tt := range tests {
		e := Event{ID: "x", Type: TypeText, Channel: "web", Timestamp: tt.in}
		want := `{"id":"x","type":"text","channel":"web","timestamp":"` + tt.want + `"}`
		if got := e.AppendJSON(nil); string(got) != want {
			t.Errorf("%v:\n got %s\nwant %s", tt.in, got, want)
		}
	}
}

func TestAppendJSONOmitsEmpty(t *testing.T) {
	if got, want := string((&Event{}).AppendJSON(nil)), `{"id":"","type":"","channel":""}`; got != want {
		t.Errorf("zero event = %s, want %s", got, want)
	}

	// Each optional member alone renders exactly its own key.
	tests := []struct {
		key string
		set func(*Event)
	}{
		{"connection", func(e *Event) { e.Connection = "c" }},
		{"bot_id", func(e *Event) { e.BotID = "b" }},
		{"channel_id", func(e *Event) { e.ChannelID = "c" }},
		{"response_path", func(e *Event) { e.ResponsePath = "b/c/c" }},
		{"sender", func(e *Event) { e.Sender.Username = "u" }},
		{"visitor_id", func(e *Event) { e.VisitorID = "v" }},
		{"provided_id", func(e *Event) { e.ProvidedID = "p" }},
		{"text", func(e *Event) { e.Text = "t" }},
		{"payload", func(e *Event) { e.Payload = "p" }},
		{"command", func(e *Event) { e.Command = "c" }},
		{"args", func(e *Event) { e.Args = "a" }},
		{"attachments", func(e *Event) { e.Attachments = []Attachment{{}} }},
		{"location", func(e *Event) { e.Location = &Location{} }},
		{"native_id", func(e *Event) { e.NativeID = "n" }},
		{"reply_to", func(e *Event) { e.ReplyTo = "r" }},
		{"timestamp", func(e *Event) { e.Timestamp = time.Unix(1, 0) }},
		{"metadata", func(e *Event) { e.Metadata = json.RawMessage(`{}`) }},
		{"attributes", func(e *Event) { e.Attributes = json.RawMessage(`{}`) }},
	}
	for _, tt := range tests {
		var e Event
		tt.set(&e)
		var m map[string]json.RawMessage
		out := e.AppendJSON(nil)
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s: %v in %s", tt.key, err, out)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != "id" && k != "type" && k != "channel" {
				keys = append(keys, k)
			}
		}
		if len(keys) != 1 || keys[0] != tt.key {
			t.Errorf("with only %s set, optional keys = %v: %s", tt.key, keys, out)
		}
	}

	nested := []struct {
		e    Event
		want string
	}{
		{Event{Sender: Sender{Name: "n"}}, `"sender":{"name":"n"}`},
		{Event{Sender: Sender{Language: "en"}}, `"sender":{"language":"en"}`},
		{Event{Sender: Sender{ID: "1", Language: "en"}}, `"sender":{"id":"1","language":"en"}`},
		{Event{Attachments: []Attachment{{}}}, `"attachments":[{"type":""}]`},
		{Event{Attachments: []Attachment{{Type: "image", Size: 0}, {Type: "file", Size: 7}}}, `"attachments":[{"type":"image"},{"type":"file","size":7}]`},
		{Event{Location: &Location{}}, `"location":{"lat":0,"long":0}`},
		{Event{Location: &Location{Lat: 1.5, Address: "a"}}, `"location":{"lat":1.5,"long":0,"address":"a"}`},
	}
	for _, tt := range nested {
		out := string(tt.e.AppendJSON(nil))
		if want := `{"id":"","type":"","channel":"",` + tt.want + `}`; out != want {
			t.Errorf("got  %s\nwant %s", out, want)
		}
	}
}

func TestAppendJSONNonFiniteLocation(t *testing.T) {
	e := Event{ID: "x", Type: TypeLocation, Channel: "web", Location: &Location{Lat: math.NaN(), Long: math.Inf(-1)}}
	out := e.AppendJSON(nil)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	if want := `{"id":"x","type":"location","channel":"web","location":{"lat":null,"long":null}}`; string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

func TestAppendJSONKeepsPrefix(t *testing.T) {
	e := fullEvent()
	buf := append(make([]byte, 0, 4096), "prefix\n"...)
	out := e.AppendJSON(buf)
	if !bytes.HasPrefix(out, []byte("prefix\n")) {
		t.Fatalf("prefix lost: %.40s", out)
	}
	if !bytes.Equal(out[len("prefix\n"):], e.AppendJSON(nil)) {
		t.Error("output after a prefix differs from output into nil")
	}
	if &out[0] != &buf[0] {
		t.Error("AppendJSON reallocated a buffer with room to spare")
	}
}

func TestAppendJSONGolden(t *testing.T) {
	e := fullEvent()
	// Exercise escaping and a zone conversion in the golden file too.
	e.Text = "Hi <b>\"Ada\"</b> & co\n\u2028\x01"
	e.Timestamp = time.Date(2024, 3, 5, 9, 8, 9, 123_456_789, time.FixedZone("", 2*3600))
	got := e.AppendJSON(nil)
	golden := filepath.Join("testdata", "event.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("AppendJSON differs from %s:\n got %s\nwant %s", golden, got, want)
	}
}

func TestReset(t *testing.T) {
	e := fullEvent()
	e.Attachments = append(make([]Attachment, 0, 8), e.Attachments...)
	backing := &e.Attachments[:1][0]
	e.Reset()
	if len(e.Attachments) != 0 || cap(e.Attachments) != 8 {
		t.Fatalf("after Reset: len %d cap %d, want 0 and 8", len(e.Attachments), cap(e.Attachments))
	}
	if &e.Attachments[:1][0] != backing {
		t.Error("Reset replaced the attachments array")
	}
	if diff := cmp.Diff(Event{Attachments: e.Attachments}, e); diff != "" {
		t.Errorf("Reset left fields set (-want +got):\n%s", diff)
	}
	if got, want := string(e.AppendJSON(nil)), `{"id":"","type":"","channel":""}`; got != want {
		t.Errorf("reset event = %s, want %s", got, want)
	}

	var zero Event
	zero.Reset() // nil attachments: must not panic
	if zero.Attachments != nil {
		t.Error("Reset of a zero event made attachments non-nil")
	}
}

// typicalEvent is what a Messenger text message becomes.
func typicalEvent() Event {
	return Event{
		ID:           "messenger:m_fZ3kQ8bT2xYcWv9LpR4sN1aE7uHjD0gM",
		Type:         TypeText,
		Channel:      "messenger",
		Connection:   "fb",
		BotID:        "1061234567890123",
		ChannelID:    "2345678901234567",
		ResponsePath: "1061234567890123/c/2345678901234567",
		Sender:       Sender{ID: "2345678901234567"},
		VisitorID:    "v_3b7f2c1e9a8d4f60",
		Text:         "Hello, I'd like to change my delivery address please.",
		NativeID:     "m_fZ3kQ8bT2xYcWv9LpR4sN1aE7uHjD0gM",
		Timestamp:    time.UnixMilli(1718000000123).UTC(),
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := typicalEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodingJSON(b *testing.B) {
	e := typicalEvent()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		out, err := json.Marshal(&e)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

func BenchmarkAppendJSONFull(b *testing.B) {
	e := fullEvent()
	e.Text = strings.Repeat("Ünïcödé <text> & \"quotes\" ", 20)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
