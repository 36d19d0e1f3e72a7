package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"

	"github.com/switchboard-gw/switchboard/adapters"
)

// SignatureHeader carries the HMAC-SHA256 of the raw body keyed with the
// app secret, as "sha256=<64 hex>" (channels/meta.md §2).
const SignatureHeader = "X-Hub-Signature-256"

// LegacySignatureHeader is the SHA-1 signature Meta still sends beside
// SignatureHeader. It is never accepted on its own.
const LegacySignatureHeader = "X-Hub-Signature"

const sigPrefix = "sha256="

// Errors of VerifySignature; errors.Is matches both these and the shared
// adapters sentinels they wrap.
var (
	ErrMissingSignature = fmt.Errorf("meta: %w", adapters.ErrMissingSignature)
	ErrBadSignature     = fmt.Errorf("meta: %w", adapters.ErrBadSignature)
)

// The reasons below wrap the sentinels above; they are preallocated so that
// a refused request costs no allocation either.
var (
	errOnlySHA1  = fmt.Errorf("%w: only %s (sha1) present, %s required", ErrMissingSignature, LegacySignatureHeader, SignatureHeader)
	errNoHeader  = fmt.Errorf("%w: no %s header", ErrMissingSignature, SignatureHeader)
	errNoPrefix  = fmt.Errorf("%w: value does not start with %q", ErrBadSignature, sigPrefix)
	errBadLength = fmt.Errorf("%w: want %q and 64 hex digits", ErrBadSignature, sigPrefix)
	errBadHex    = fmt.Errorf("%w: not hexadecimal", ErrBadSignature)
	errMismatch  = fmt.Errorf("%w: HMAC does not match the body", ErrBadSignature)
	errNoSecret  = fmt.Errorf("%w: no app secret configured", ErrBadSignature)
)

// Signer signs and verifies X-Hub-Signature-256 with one app secret.
//
// The zero value with Secret set is ready to use: Signer{Secret: s}. Secret
// must not change after the first call, and a Signer must not be copied
// after first use (it holds a pool of keyed HMAC states, which is what makes
// Verify allocation-free once warm). It is safe for concurrent use.
type Signer struct {
	// Secret is the Meta app secret (not a page token, not the verify
	// token).
	Secret []byte

	pool sync.Pool // of *macState keyed with Secret
}

// macState is one keyed HMAC and the scratch its Sum writes to. The scratch
// lives here, not on the stack, because Sum through the hash.Hash interface
// would make a stack array escape.
type macState struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func (s *Signer) acquire() *macState {
	if v, ok := s.pool.Get().(*macState); ok {
		return v
	}
	return &macState{mac: hmac.New(sha256.New, s.Secret)}
}

func (s *Signer) release(m *macState) {
	m.mac.Reset()
	s.pool.Put(m)
}

// mac computes the HMAC of body into m.sum.
func (s *Signer) mac(m *macState, body []byte) []byte {
	m.mac.Write(body)
	return m.mac.Sum(m.sum[:0])
}

// Sign appends "sha256=<hex HMAC-SHA256 of body>" to dst: the value Meta
// puts in X-Hub-Signature-256. Tests and benchmarks use it to sign fixtures.
func (s *Signer) Sign(dst, body []byte) []byte {
	m := s.acquire()
	defer s.release(m)
	sum := s.mac(m, body)
	dst = append(dst, sigPrefix...)
	return hex.AppendEncode(dst, sum)
}

// Verify checks h's X-Hub-Signature-256 against the HMAC of the raw body.
// A request carrying only the SHA-1 X-Hub-Signature is refused as missing
// (never fall back to SHA-1). Hex digits may be upper or lower case. The
// comparison runs in constant time, and Verify allocates nothing.
func (s *Signer) Verify(h adapters.Peeker, body []byte) error {
	if len(s.Secret) == 0 {
		// An empty key is a configuration error; HMAC with it would be
		// forgeable by anyone, so fail closed.
		return errNoSecret
	}
	got := h.Peek(SignatureHeader)
	if len(got) == 0 {
		if len(h.Peek(LegacySignatureHeader)) > 0 {
			return errOnlySHA1
		}
		return errNoHeader
	}
	if len(got) < len(sigPrefix) || string(got[:len(sigPrefix)]) != sigPrefix {
		return errNoPrefix
	}
	got = got[len(sigPrefix):]
	if len(got) != 2*sha256.Size {
		return errBadLength
	}
	var want [sha256.Size]byte
	if _, err := hex.Decode(want[:], got); err != nil {
		return errBadHex
	}
	m := s.acquire()
	defer s.release(m)
	if !hmac.Equal(s.mac(m, body), want[:]) {
		return errMismatch
	}
	return nil
}
