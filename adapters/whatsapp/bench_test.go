//go:build !race

// The race detector drops sync.Pool items at random, which breaks the
// allocation counts pinned here; these run without -race.

package whatsapp

import (
	"context"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/normalize"
)

func benchVerifyParse(b *testing.B, name string) {
	body := readFixture(b, name)
	adaptertest.BenchInbound(b, newTestAdapter(), metatest.FastHeader(fakeSecret, body), body, true)
}

// BenchmarkVerifyParse is one text message with its contact (text.json,
// 0.5 KB), the commonest WhatsApp webhook.
func BenchmarkVerifyParse(b *testing.B) { benchVerifyParse(b, "text") }

// BenchmarkVerifyParseStatus is one delivered status with conversation and
// pricing (status_delivered.json): every message sent brings two or three.
func BenchmarkVerifyParseStatus(b *testing.B) { benchVerifyParse(b, "status_delivered") }

// BenchmarkVerifyParseBatch is two entries, three changes, two messages
// and two statuses (batch_changes_entries.json, 1.6 KB).
func BenchmarkVerifyParseBatch(b *testing.B) { benchVerifyParse(b, "batch_changes_entries") }

func BenchmarkParse(b *testing.B) {
	body := readFixture(b, "text")
	adaptertest.BenchInbound(b, newTestAdapter(), nil, body, true)
}

func benchReplies() map[string]*normalize.Reply {
	return map[string]*normalize.Reply{
		"Text": {Text: "Your order #4521 is on its way and should arrive tomorrow before noon."},
		"Buttons": {Text: "Would you like to confirm the delivery slot?", QuickReplies: []normalize.QuickReply{
			{Title: "Yes, confirm"}, {Title: "Change slot"}, {Title: "Talk to a human agent please"}}},
		"List": {Text: "Which size would you like?", Buttons: []normalize.Button{
			{Title: "XS"}, {Title: "S"}, {Title: "M"}, {Title: "L"}, {Title: "XL"}, {Title: "XXL"}}},
	}
}

func BenchmarkRender(b *testing.B) {
	a := newTestAdapter()
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234", Response: true}
	for name, r := range benchReplies() {
		b.Run(name, func(b *testing.B) { metatest.BenchRender(b, a.Render, to, r) })
	}
}

// BenchmarkSend renders and sends to the mock Graph API over loopback.
func BenchmarkSend(b *testing.B) {
	s, a := startMock(b)
	s.SetRecord(false)
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234", Response: true}
	adaptertest.BenchSend(b, context.Background(), a, to, benchReplies()["Buttons"])
}

// Verify allocates nothing, Parse of a text webhook one string, Render of
// text one (its path).
func TestAllocs(t *testing.T) {
	body := readFixture(t, "text")
	adaptertest.InboundAllocs(t, newTestAdapter(), metatest.FastHeader(fakeSecret, body), body, 1)
	a := newTestAdapter()
	to := adapters.Recipient{BotID: phoneID, ChannelID: "16505551234"}
	out := make([]byte, 0, 4096)
	r := benchReplies()["Text"]
	if n := testing.AllocsPerRun(200, func() { out, _, _, _ = a.Render(out[:0], to, r) }); n > 1 {
		t.Errorf("Render of text: %.1f allocations, want at most 1", n)
	}
}
