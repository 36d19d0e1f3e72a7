//go:build !race

// The race detector drops sync.Pool items at random, which breaks the
// allocation counts pinned here; these run without -race.

package instagram

import (
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// BenchmarkVerifyParse is one text webhook (text.json, 0.4 KB).
func BenchmarkVerifyParse(b *testing.B) {
	body := adaptertest.ReadFixture(b, "text.json")
	adaptertest.BenchInbound(b, testAdapter(), metatest.FastHeader(testSecret, body), body, true)
}

// BenchmarkVerifyParseBatch is a 6-event batch over two accounts with a
// comment change (batch.json, 1.2 KB).
func BenchmarkVerifyParseBatch(b *testing.B) {
	body := adaptertest.ReadFixture(b, "batch.json")
	adaptertest.BenchInbound(b, testAdapter(), metatest.FastHeader(testSecret, body), body, true)
}

// BenchmarkVerifyParseStoryReply is a story reply (metadata copied).
func BenchmarkVerifyParseStoryReply(b *testing.B) {
	body := adaptertest.ReadFixture(b, "story_reply.json")
	adaptertest.BenchInbound(b, testAdapter(), metatest.FastHeader(testSecret, body), body, true)
}

// Verify is allocation-free once warm; Parse of a text webhook costs one
// allocation (the string arena of its events).
func TestInboundAllocs(t *testing.T) {
	body := adaptertest.ReadFixture(t, "text.json")
	adaptertest.InboundAllocs(t, testAdapter(), metatest.FastHeader(testSecret, body), body, 1)
}

func benchReply() *normalize.Reply {
	return &normalize.Reply{
		Text: "Which size would you like? We have everything from XS to XL in stock today.",
		QuickReplies: []normalize.QuickReply{
			{Title: "XS", Payload: "SIZE_XS"}, {Title: "S", Payload: "SIZE_S"}, {Title: "M", Payload: "SIZE_M"},
			{Title: "L", Payload: "SIZE_L"}, {Title: "XL", Payload: "SIZE_XL"}, {Title: "Help"},
		},
	}
}

func BenchmarkRender(b *testing.B) {
	a := outAdapter("https://graph.example/v25.0", nil)
	metatest.BenchRender(b, a.Render, adapters.Recipient{BotID: outAccount, ChannelID: outIGSID, Response: true}, benchReply())
}

// BenchmarkRenderDegraded drops a contact quick reply and an image: the
// report is what it allocates.
func BenchmarkRenderDegraded(b *testing.B) {
	a := outAdapter("https://graph.example/v25.0", nil)
	r := benchReply()
	r.QuickReplies = append(r.QuickReplies, normalize.QuickReply{Title: "user_email"}, normalize.QuickReply{Title: "Pic [https://example.com/i.png]"})
	metatest.BenchRender(b, a.Render, adapters.Recipient{BotID: outAccount, ChannelID: outIGSID, Response: true}, r)
}

// TestRenderAllocs pins warm renders of every supported form that changes
// nothing to zero allocations.
func TestRenderAllocs(t *testing.T) {
	a := outAdapter("https://graph.example/v25.0", nil)
	metatest.RenderAllocs(t, a.Render, adapters.Recipient{BotID: outAccount, ChannelID: outIGSID, Response: true},
		benchReply(),
		&normalize.Reply{Text: "Next?", Buttons: []normalize.Button{{Title: "Agent"}, {Title: "Site", Payload: "https://example.com"}}},
		&normalize.Reply{Cards: []normalize.Card{{Title: "Shirt", DefaultURL: "https://example.com/s", Buttons: []normalize.Button{{Title: "Buy"}}}, {Title: "Hat"}}},
		&normalize.Reply{Attachment: &normalize.OutAttachment{Type: "like_heart"}},
		&normalize.Reply{SenderAction: normalize.SenderActionTypingOn},
	)
}
