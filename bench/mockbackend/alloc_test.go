//go:build !race

package mockbackend

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/gateway/backend"
)

// TestVerifyAllocs pins the signature check through signatureHeader:
// once warm it allocates nothing.
func TestVerifyAllocs(t *testing.T) {
	signer := &meta.Signer{Secret: []byte("k")}
	body := []byte(`{"id":"messenger:m_1"}`)
	var h fasthttp.RequestHeader
	h.SetBytesV(backend.HeaderSignature, signer.Sign(nil, body))
	if err := signer.Verify(signatureHeader{&h}, body); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = signer.Verify(signatureHeader{&h}, body) }); n != 0 {
		t.Errorf("Verify allocates %.1f times", n)
	}
}
