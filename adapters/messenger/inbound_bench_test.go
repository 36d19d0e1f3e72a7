//go:build !race

package messenger

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/adaptertest"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/adapters/meta/metatest"
)

// The benchmark body is a typical text webhook with Meta's built-in NLP
// block, about 1 KB like the ones Meta sends (text_with_nlp.json). The
// headers are fasthttp's, as the gateway passes them (adapters.Header
// copies on Peek).
func benchBody(b testing.TB) ([]byte, *fasthttp.RequestHeader) {
	body := adaptertest.ReadFixture(b, "text_with_nlp.json")
	return body, metatest.FastHeader(testSecret, body)
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

// BenchmarkVerifyParseSmall is the smallest real webhook: one text
// message without NLP (text.json, 0.3 KB).
func BenchmarkVerifyParseSmall(b *testing.B) {
	body := adaptertest.ReadFixture(b, "text.json")
	adaptertest.BenchInbound(b, testAdapter(), metatest.FastHeader(testSecret, body), body, true)
}

// BenchmarkVerifyParse1K is a 1 KB text webhook without NLP: a long
// message (text_1k.json), the size the bench issue's ceiling uses.
func BenchmarkVerifyParse1K(b *testing.B) {
	body := adaptertest.ReadFixture(b, "text_1k.json")
	adaptertest.BenchInbound(b, testAdapter(), metatest.FastHeader(testSecret, body), body, true)
}

// BenchmarkParse1K is BenchmarkVerifyParse1K without the signature check:
// with it, the split between verify and parse.
func BenchmarkParse1K(b *testing.B) {
	adaptertest.BenchInbound(b, testAdapter(), nil, adaptertest.ReadFixture(b, "text_1k.json"), true)
}

// BenchmarkParseBatch is a 5-event, two-Page batch.
func BenchmarkParseBatch(b *testing.B) {
	adaptertest.BenchInbound(b, testAdapter(), nil, adaptertest.ReadFixture(b, "batch_two_pages.json"), true)
}

// Verify is allocation-free once warm; Parse of a text webhook costs one
// allocation (the string arena of its events).
func TestInboundAllocs(t *testing.T) {
	body, h := benchBody(t)
	adaptertest.InboundAllocs(t, testAdapter(), h, body, 1)
	s := &meta.Signer{Secret: []byte(testSecret)}
	sig := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(200, func() { sig = s.Sign(sig[:0], body) }); n != 0 {
		t.Errorf("Signer.Sign allocates %.1f times per call, want 0", n)
	}
}
