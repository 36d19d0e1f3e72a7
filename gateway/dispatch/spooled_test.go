package dispatch

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/switchboard-gw/switchboard/normalize"
)

// spooledCases cover the append-style path (every member it writes,
// omitted empties, strings encoding/json escapes) and replies it leaves
// to encoding/json.
var spooledCases = []spooled{
	{Connection: "fb", ResponsePath: "42/c/7", EventID: "m_1", Reply: normalize.Reply{Text: "echo: hi"}},
	{Connection: "fb", ResponsePath: "42/c/7", Reply: normalize.Reply{}},
	{Connection: "fb", ResponsePath: "42/c/7", EventID: "m_2", Reply: normalize.Reply{
		Text: "<b>\"quoted\" & \\ \n\u2028 é 👋 \xff", SenderAction: "typing_on", MessagingType: "MESSAGE_TAG", Tag: "HUMAN_AGENT", OTN: true,
		QuickReplies: []normalize.QuickReply{{Title: "Red", Payload: "RED"}, {Type: "user_email"}, {Title: "B", ImageURL: "https://x.test/b.png?a=1&b=<2>"}, {}},
	}},
	{Connection: "site", ResponsePath: "demo-site/c/v_1", Reply: normalize.Reply{Text: "a", QuickReplies: []normalize.QuickReply{}}},
	{Connection: "fb", ResponsePath: "42/c/7", Reply: normalize.Reply{Text: "card", Buttons: []normalize.Button{{Type: "url", Title: "Go", URL: "https://x.test"}}}},
	{Connection: "fb", ResponsePath: "42/c/7", Reply: normalize.Reply{Attachment: &normalize.OutAttachment{Type: "image", URL: "https://x.test/a.png"}}},
	{Connection: "fb", ResponsePath: "42/c/7", Reply: normalize.Reply{ChannelData: json.RawMessage(`{"type":"template"}`)}},
}

func TestMarshalSpooled(t *testing.T) {
	for _, s := range spooledCases {
		checkSpooled(t, &s)
	}
}

// checkSpooled holds marshalSpooled to json.Marshal, byte for byte (replay
// reads the entry with encoding/json).
func checkSpooled(t *testing.T, s *spooled) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := marshalSpooled(s)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("marshalSpooled:\n got %s\nwant %s", got, want)
	}
}

func FuzzMarshalSpooled(f *testing.F) {
	for _, s := range spooledCases {
		f.Add(s.Connection, s.ResponsePath, s.EventID, s.Reply.Text, s.Reply.Tag, s.Reply.OTN, "Red", "https://x.test/r.png")
	}
	f.Fuzz(func(t *testing.T, conn, path, event, text, tag string, otn bool, title, image string) {
		s := spooled{Connection: conn, ResponsePath: path, EventID: event, Reply: normalize.Reply{Text: text, Tag: tag, OTN: otn}}
		checkSpooled(t, &s)
		s.Reply.QuickReplies = []normalize.QuickReply{{Title: title, ImageURL: image}, {Type: tag, Payload: text}}
		checkSpooled(t, &s)
	})
}

// BenchmarkMarshalSpooled: an echo bot's reply with two quick replies.
func BenchmarkMarshalSpooled(b *testing.B) {
	s := &spooled{Connection: "bench", ResponsePath: "100000000000001/c/2000000000000042", EventID: "m_AbCdEfGhIjKlMnOp",
		Reply: normalize.Reply{Text: "echo: hello there, how are you today?", QuickReplies: []normalize.QuickReply{{Title: "Yes"}, {Title: "No"}}}}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshalSpooled(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
