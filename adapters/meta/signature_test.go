package meta

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
)

var (
	testSecret = []byte("fake-app-secret-for-tests")
	testBody   = []byte(`{"object":"page","entry":[{"id":"1061","time":1718000000123,"messaging":[]}]}`)
)

// sign is an independent reference: the recipe of channels/meta.md §2.
func sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func signSHA1(secret, body []byte) string {
	m := hmac.New(sha1.New, secret)
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func TestSignerSignMatchesReference(t *testing.T) {
	s := &Signer{Secret: testSecret}
	for _, body := range [][]byte{nil, {}, testBody, bytes.Repeat([]byte("x"), 10000)} {
		got := string(s.Sign(nil, body))
		if want := sign(testSecret, body); got != want {
			t.Errorf("Sign(%d bytes) = %s, want %s", len(body), got, want)
		}
	}
	// Append-style: the prefix of dst is kept.
	if got := string(s.Sign([]byte("x:"), testBody)); got != "x:"+sign(testSecret, testBody) {
		t.Errorf("Sign appended %q", got)
	}
}

func TestVerifySignature(t *testing.T) {
	good := sign(testSecret, testBody)
	tests := []struct {
		name    string
		secret  []byte
		headers map[string]string
		body    []byte
		want    error // nil, adapters.ErrMissingSignature or adapters.ErrBadSignature
	}{
		{name: "good", headers: map[string]string{SignatureHeader: good}},
		{name: "good with sha1 beside it", headers: map[string]string{SignatureHeader: good, LegacySignatureHeader: signSHA1(testSecret, testBody)}},
		{name: "header name any case", headers: map[string]string{"x-hub-signature-256": good}},
		{name: "uppercase hex accepted", headers: map[string]string{SignatureHeader: "sha256=" + strings.ToUpper(good[len("sha256="):])}},
		{name: "empty body signed", body: []byte{}, headers: map[string]string{SignatureHeader: sign(testSecret, nil)}},
		{name: "wrong secret", headers: map[string]string{SignatureHeader: sign([]byte("other-secret"), testBody)}, want: adapters.ErrBadSignature},
		{name: "sha1 only", headers: map[string]string{LegacySignatureHeader: signSHA1(testSecret, testBody)}, want: adapters.ErrMissingSignature},
		{name: "sha1 value in sha256 header", headers: map[string]string{SignatureHeader: signSHA1(testSecret, testBody)}, want: adapters.ErrBadSignature},
		{name: "no header", want: adapters.ErrMissingSignature},
		{name: "empty header", headers: map[string]string{SignatureHeader: ""}, want: adapters.ErrMissingSignature},
		{name: "missing prefix", headers: map[string]string{SignatureHeader: good[len("sha256="):]}, want: adapters.ErrBadSignature},
		{name: "uppercase prefix", headers: map[string]string{SignatureHeader: "SHA256=" + good[len("sha256="):]}, want: adapters.ErrBadSignature},
		{name: "prefix only", headers: map[string]string{SignatureHeader: "sha256="}, want: adapters.ErrBadSignature},
		{name: "truncated", headers: map[string]string{SignatureHeader: good[:len(good)-2]}, want: adapters.ErrBadSignature},
		{name: "too long", headers: map[string]string{SignatureHeader: good + "00"}, want: adapters.ErrBadSignature},
		{name: "trailing space", headers: map[string]string{SignatureHeader: good + " "}, want: adapters.ErrBadSignature},
		{name: "not hex", headers: map[string]string{SignatureHeader: "sha256=" + strings.Repeat("zz", 32)}, want: adapters.ErrBadSignature},
		{name: "empty body, signature of the real body", body: []byte{}, headers: map[string]string{SignatureHeader: good}, want: adapters.ErrBadSignature},
		{name: "tampered body", body: bytes.Replace(testBody, []byte("1061"), []byte("1062"), 1), headers: map[string]string{SignatureHeader: good}, want: adapters.ErrBadSignature},
		{name: "body with trailing newline", body: append(bytes.Clone(testBody), '\n'), headers: map[string]string{SignatureHeader: good}, want: adapters.ErrBadSignature},
		{name: "no secret configured", secret: []byte{}, headers: map[string]string{SignatureHeader: sign(nil, testBody)}, want: adapters.ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := testSecret
			if tt.secret != nil {
				secret = tt.secret
			}
			body := testBody
			if tt.body != nil {
				body = tt.body
			}
			h := adapters.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			check := func(err error) {
				t.Helper()
				switch {
				case tt.want == nil && err != nil:
					t.Fatalf("refused a good request: %v", err)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Fatalf("err = %v, want one wrapping %v", err, tt.want)
				}
				if tt.want == adapters.ErrBadSignature && !errors.Is(err, ErrBadSignature) ||
					tt.want == adapters.ErrMissingSignature && !errors.Is(err, ErrMissingSignature) {
					t.Fatalf("err = %v does not wrap the meta sentinel", err)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "meta: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
			}
			check((&Signer{Secret: secret}).Verify(h, body))
		})
	}
}

func TestVerifySignatureConcurrent(t *testing.T) {
	secrets := [][]byte{[]byte("a-secret"), []byte("b-secret"), []byte("c-secret")}
	signers := make([]*Signer, len(secrets))
	for i, sec := range secrets {
		signers[i] = &Signer{Secret: sec}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				sec := secrets[(g+i)%len(secrets)]
				h := adapters.Header{}
				h.Set(SignatureHeader, sign(sec, testBody))
				if err := signers[(g+i)%len(secrets)].Verify(h, testBody); err != nil {
					t.Errorf("good signature refused: %v", err)
					return
				}
				if err := signers[(g+i+1)%len(secrets)].Verify(h, testBody); !errors.Is(err, ErrBadSignature) {
					t.Errorf("signature under another secret: err = %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzVerify(f *testing.F) {
	f.Add([]byte("sha256=00"), testBody)
	f.Add([]byte(sign(testSecret, testBody)), testBody)
	f.Add([]byte(signSHA1(testSecret, testBody)), testBody)
	f.Add([]byte{}, []byte{})
	s := &Signer{Secret: testSecret}
	f.Fuzz(func(t *testing.T, hdr, body []byte) {
		h := adapters.Header{}
		h.Set(SignatureHeader, string(hdr))
		err := s.Verify(h, body)
		if err != nil && !errors.Is(err, adapters.ErrBadSignature) && !errors.Is(err, adapters.ErrMissingSignature) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil && !strings.EqualFold(string(hdr), sign(testSecret, body)) {
			t.Fatalf("accepted %q for a body whose signature is %s", hdr, sign(testSecret, body))
		}
		// What Sign produces always verifies.
		h.Set(SignatureHeader, string(s.Sign(nil, body)))
		if err := s.Verify(h, body); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
