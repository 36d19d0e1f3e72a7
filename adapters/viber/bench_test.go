//go:build !race

// The race detector drops sync.Pool items at random, which breaks the
// allocation counts pinned here; these run without -race.

package viber

import (
	"context"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/normalize"
)

// The benchmark body is a typical text message callback with a full sender
// profile, as Viber sends it (message_text.json, about 450 bytes). The
// headers are fasthttp's, as the gateway passes them.
func benchBody(b testing.TB) ([]byte, *fasthttp.RequestHeader) {
	body := adaptertest.ReadFixture(b, "message_text.json")
	h := &fasthttp.RequestHeader{}
	h.SetContentTypeBytes([]byte("application/json"))
	h.Set(SignatureHeader, sign(testToken, body))
	return body, h
}

func BenchmarkVerify(b *testing.B) {
	body, h := benchBody(b)
	adaptertest.BenchInbound(b, testAdapter(), h, body, false)
}

func BenchmarkParse(b *testing.B) {
	body, _ := benchBody(b)
	adaptertest.BenchInbound(b, testAdapter(), nil, body, true)
}

func BenchmarkVerifyParse(b *testing.B) {
	body, h := benchBody(b)
	adaptertest.BenchInbound(b, testAdapter(), h, body, true)
}

func benchReply() *normalize.Reply {
	return &normalize.Reply{
		Text: "Which size would you like? We have everything from XS to XL in stock today.",
		QuickReplies: []normalize.QuickReply{
			{Title: "XS", Payload: "SIZE_XS"}, {Title: "S", Payload: "SIZE_S"}, {Title: "M", Payload: "SIZE_M"},
			{Title: "L", Payload: "SIZE_L"}, {Title: "XL", Payload: "SIZE_XL"}, {Title: "user_phone_number"},
		},
	}
}

func BenchmarkRender(b *testing.B) {
	a := outAdapter("https://chatapi.example/pa")
	to := adapters.Recipient{BotID: testBotID, ChannelID: outReceiver, Response: true}
	r := benchReply()
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, _, err = a.Render(dst[:0], to, r, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

// BenchmarkRenderCards is a three-card carousel with buttons.
func BenchmarkRenderCards(b *testing.B) {
	a := outAdapter("https://chatapi.example/pa")
	c := readOutCase(b, "cards")
	dst := make([]byte, 0, 8192)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, _, err = a.Render(dst[:0], c.To(), &c.Reply, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

// BenchmarkSend renders and sends over loopback to the mock Viber API:
// render, one HTTP exchange on a kept-alive connection, answer parsing.
func BenchmarkSend(b *testing.B) {
	_, a := outMock(b)
	adaptertest.BenchSend(b, context.Background(), a, adapters.Recipient{ChannelID: outReceiver}, benchReply())
}

// Verify and Sign are allocation-free once warm; Parse of a text message
// costs one allocation (the string arena of its event); a warm Render of
// text with a keyboard costs none.
func TestAllocs(t *testing.T) {
	a := testAdapter()
	body, h := benchBody(t)
	adaptertest.InboundAllocs(t, a, h, body, 1)
	bad := &fasthttp.RequestHeader{}
	bad.Set(SignatureHeader, sign("other", body))
	if n := testing.AllocsPerRun(200, func() { _ = a.Verify(bad, body) }); n != 0 {
		t.Errorf("a refused Verify allocates %.1f times per call, want 0", n)
	}
	sig := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(200, func() { sig = a.Sign(sig[:0], body) }); n != 0 {
		t.Errorf("Sign allocates %.1f times per call, want 0", n)
	}
	o := outAdapter("https://chatapi.example/pa")
	to := adapters.Recipient{ChannelID: outReceiver}
	out := make([]byte, 0, 4096)
	for _, r := range []*normalize.Reply{benchReply(), {Text: "hi"}, {Attachment: &normalize.OutAttachment{Type: "image", URL: "https://cdn.example.com/a.jpg"}, Text: "cap"}} {
		if n := testing.AllocsPerRun(200, func() {
			var err error
			if out, _, err = o.Render(out[:0], to, r, 0); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%+v: %.1f allocs per Render, want 0", r, n)
		}
	}
}
