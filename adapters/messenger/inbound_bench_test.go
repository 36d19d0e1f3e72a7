//go:build !race

package messenger

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// The benchmark body is a typical text webhook with Meta's built-in NLP
// block, about 1 KB like the ones Meta sends (text_with_nlp.json). The
// headers are fasthttp's, as the gateway passes them (adapters.Header
// copies on Peek).
func benchBody(b testing.TB) ([]byte, *fasthttp.RequestHeader) {
	body := mustRead(b, "text_with_nlp.json")
	h := &fasthttp.RequestHeader{}
	h.SetContentTypeBytes([]byte("application/json"))
	h.Set(meta.LegacySignatureHeader, "sha1=0123456789abcdef0123456789abcdef01234567")
	h.SetBytesV(meta.SignatureHeader, signed(body).Peek(meta.SignatureHeader))
	return body, h
}

func BenchmarkVerify(b *testing.B) {
	a := testAdapter()
	body, h := benchBody(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := a.Verify(h, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	a := testAdapter()
	body, _ := benchBody(b)
	dst := make([]normalize.Event, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var err error
		if dst, err = a.Parse(dst[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParse(b *testing.B) {
	a := testAdapter()
	body, h := benchBody(b)
	dst := make([]normalize.Event, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := a.Verify(h, body); err != nil {
			b.Fatal(err)
		}
		var err error
		if dst, err = a.Parse(dst[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParseSmall is the smallest real webhook: one text
// message without NLP (text.json, 0.3 KB).
func BenchmarkVerifyParseSmall(b *testing.B) {
	a := testAdapter()
	body := mustRead(b, "text.json")
	h := &fasthttp.RequestHeader{}
	h.SetBytesV(meta.SignatureHeader, signed(body).Peek(meta.SignatureHeader))
	dst := make([]normalize.Event, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := a.Verify(h, body); err != nil {
			b.Fatal(err)
		}
		var err error
		if dst, err = a.Parse(dst[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseBatch is a 5-event, two-Page batch.
func BenchmarkParseBatch(b *testing.B) {
	a := testAdapter()
	body := mustRead(b, "batch_two_pages.json")
	dst := make([]normalize.Event, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var err error
		if dst, err = a.Parse(dst[:0], body); err != nil {
			b.Fatal(err)
		}
	}
}

// Verify is allocation-free once warm; Parse of a text webhook costs one
// allocation (the string arena of its events).
func TestInboundAllocs(t *testing.T) {
	a := testAdapter()
	body, h := benchBody(t)
	if n := testing.AllocsPerRun(200, func() {
		if err := a.Verify(h, body); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Verify allocates %.1f times per call, want 0", n)
	}
	s := &meta.Signer{Secret: []byte(testSecret)}
	sig := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(200, func() { sig = s.Sign(sig[:0], body) }); n != 0 {
		t.Errorf("Signer.Sign allocates %.1f times per call, want 0", n)
	}
	dst := make([]normalize.Event, 0, 8)
	if n := testing.AllocsPerRun(200, func() {
		var err error
		if dst, err = a.Parse(dst[:0], body); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("Parse allocates %.1f times per call, want at most 1", n)
	}
}
