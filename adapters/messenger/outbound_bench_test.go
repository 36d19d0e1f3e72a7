//go:build !race

// The race detector drops sync.Pool items at random, which breaks the
// allocation counts pinned here; these run without -race.

package messenger

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/normalize"
)

func benchReply() *normalize.Reply {
	return &normalize.Reply{
		Text: "Which size would you like? We have everything from XS to XL in stock today.",
		QuickReplies: []normalize.QuickReply{
			{Title: "XS", Payload: "SIZE_XS"}, {Title: "S", Payload: "SIZE_S"}, {Title: "M", Payload: "SIZE_M"},
			{Title: "L", Payload: "SIZE_L"}, {Title: "XL", Payload: "SIZE_XL"},
			{Title: "Help [https://example.com/help.png]"}, {Title: "user_email"},
		},
	}
}

// TestRenderAllocs pins a warm render of text, quick replies (with the
// shorthand) and a button template to zero allocations.
func TestRenderAllocs(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0")
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901", Response: true}
	metatest.RenderAllocs(t, a.Render, to,
		benchReply(),
		&normalize.Reply{Text: "Next?", Buttons: []normalize.Button{{Title: "Agent"}, {Title: "Site", Payload: "https://example.com"}, {Title: "Call", Payload: "phone_number:+16505551234"}}},
		&normalize.Reply{Cards: []normalize.Card{{Title: "Shirt", DefaultURL: "https://example.com/s", Buttons: []normalize.Button{{Title: "Buy"}}}, {Title: "Hat"}}},
		&normalize.Reply{Attachment: &normalize.OutAttachment{Type: "image", URL: "https://example.com/a.png", Reusable: true}},
		&normalize.Reply{SenderAction: normalize.SenderActionTypingOn},
	)
}

func BenchmarkRender(b *testing.B) {
	a := outAdapter("https://graph.example/v25.0")
	metatest.BenchRender(b, a.Render, adapters.Recipient{BotID: outPage, ChannelID: "5901", Response: true}, benchReply())
}

// BenchmarkRenderEncodingJSON is the reference BenchmarkRender is measured
// against: the same wire structs (decoded from Render's body) written by
// encoding/json.
func BenchmarkRenderEncodingJSON(b *testing.B) {
	a := outAdapter("https://graph.example/v25.0")
	to := adapters.Recipient{BotID: outPage, ChannelID: "5901", Response: true}
	body, _, _, err := a.Render(nil, to, benchReply())
	if err != nil {
		b.Fatal(err)
	}
	var req SendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := enc.Encode(&req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSend renders and sends over loopback to the mock Graph API:
// render, one HTTP exchange on a kept-alive connection, answer parsing.
func BenchmarkSend(b *testing.B) {
	_, a := outMock(b)
	adaptertest.BenchSend(b, context.Background(), a, adapters.Recipient{BotID: outPage, ChannelID: "5901", Response: true}, benchReply())
}
