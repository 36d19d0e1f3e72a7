//go:build !race

package telegram

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// benchHeader is the header set as the gateway passes it: fasthttp's.
func benchHeader() *fasthttp.RequestHeader {
	h := &fasthttp.RequestHeader{}
	h.SetContentType("application/json")
	h.Set(SecretHeader, testSecret)
	return h
}

// BenchmarkVerifyParse is the inbound hot path for a typical text update
// (text_private.json, a private-chat message as Telegram sends it).
func BenchmarkVerifyParse(b *testing.B) {
	adaptertest.BenchInbound(b, testAdapter(), benchHeader(), adaptertest.ReadFixture(b, "text_private.json"), true)
}

// BenchmarkParseCallback parses a button press with its inline keyboard.
func BenchmarkParseCallback(b *testing.B) {
	adaptertest.BenchInbound(b, testAdapter(), nil, adaptertest.ReadFixture(b, "callback_query.json"), true)
}

var benchReply = normalize.Reply{
	Text:    "Your order A-1043 is on its way.",
	Buttons: []normalize.Button{{Title: "Track", URL: "https://shop.example/t/A-1043"}, {Title: "Cancel", Payload: "cancel:A-1043"}},
}

// BenchmarkRender renders a text with two inline buttons.
func BenchmarkRender(b *testing.B) {
	a := testAdapter()
	to := adapters.Recipient{BotID: testBotID, ChannelID: "7123456789"}
	var p Plan
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Render(&p, to, &benchReply); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendMock is Send against bench/mocktelegram over loopback,
// one chat per iteration so that flood control stays out of the way.
func BenchmarkSendMock(b *testing.B) {
	s, a := mockAdapter(b)
	s.SetFlood(mocktelegramNoFlood)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	to := adapters.Recipient{BotID: testBotIDMock, ChannelID: "7123456789"}
	adaptertest.BenchSend(b, ctx, a, to, &benchReply)
}

// The inbound hot path allocates what it returns and nothing else: one
// block for a text update's strings and metadata.
func TestParseAllocs(t *testing.T) {
	a := testAdapter()
	h := benchHeader()
	for name, want := range map[string]float64{
		"text_private.json":   1, // strings + metadata
		"photo.json":          2, // + the attachment
		"location_live.json":  2, // + the location
		"callback_query.json": 1,
	} {
		body := adaptertest.ReadFixture(t, name)
		dst := make([]normalize.Event, 0, 4)
		got := testing.AllocsPerRun(200, func() {
			if err := a.Verify(h, body); err != nil {
				t.Fatal(err)
			}
			var err error
			if dst, err = a.Parse(dst[:0], body); err != nil {
				t.Fatal(err)
			}
		})
		if got > want {
			t.Errorf("%s: %v allocations per Verify+Parse, want at most %v", name, got, want)
		}
	}
}
