// Package backend delivers canonical events to the bot backend (DESIGN §4):
// one signed POST per event, and the backend's optional synchronous replies
// read from its answer. The built-in echo bot is a Client too, so the
// embedded default runs with no backend at all.
package backend

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Headers sent with every event.
const (
	HeaderSignature = "X-Switchboard-Signature"
	HeaderEventID   = "X-Switchboard-Event-Id"
)

// Client delivers one event and returns the backend's answer body (empty
// when it had nothing to say). Any error means "not delivered".
type Client interface {
	Deliver(ctx context.Context, eventID string, event []byte) (answer []byte, err error)
}

// StatusError is a backend answer outside 2xx.
type StatusError struct{ Status int }

func (e *StatusError) Error() string { return fmt.Sprintf("backend: answered HTTP %d", e.Status) }

// ErrTimeout is a backend that did not answer in time.
var ErrTimeout = errors.New("backend: no answer in time")

// maxAnswer caps the answer body read from the backend.
const maxAnswer = 1 << 20

// HTTP posts events to URL. Fill it with NewHTTP.
type HTTP struct {
	URL     string
	Timeout time.Duration
	signer  *Signer
	client  *fasthttp.Client
}

// NewHTTP returns a client for url signing with secret; concurrency sizes
// its connection pool.
func NewHTTP(url string, secret []byte, timeout time.Duration, concurrency int) *HTTP {
	return &HTTP{
		URL:     url,
		Timeout: timeout,
		signer:  &Signer{Secret: secret},
		client: &fasthttp.Client{
			Name:                          "switchboard",
			MaxConnsPerHost:               concurrency,
			ReadTimeout:                   timeout,
			WriteTimeout:                  timeout,
			MaxIdleConnDuration:           30 * time.Second,
			MaxResponseBodySize:           maxAnswer,
			NoDefaultUserAgentHeader:      true,
			DisableHeaderNamesNormalizing: true,
			RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		},
	}
}

// Deliver posts event and returns a copy of the answer body on 2xx.
func (h *HTTP) Deliver(ctx context.Context, eventID string, event []byte) ([]byte, error) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(h.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set(HeaderEventID, eventID)
	var sig [7 + 64]byte
	req.Header.SetBytesV(HeaderSignature, h.signer.Sign(sig[:0], event))
	req.SetBodyRaw(event)
	deadline := time.Now().Add(h.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := h.client.DoDeadline(req, resp, deadline); err != nil {
		if errors.Is(err, fasthttp.ErrTimeout) {
			return nil, ErrTimeout
		}
		return nil, fmt.Errorf("backend: %w", err)
	}
	if sc := resp.StatusCode(); sc < 200 || sc > 299 {
		return nil, &StatusError{Status: sc}
	}
	if len(resp.Body()) == 0 {
		return nil, nil
	}
	return append([]byte(nil), resp.Body()...), nil
}

// Signer computes "sha256=<hex HMAC-SHA256>" signatures with Secret. The
// zero value signs with an empty key; it is safe for concurrent use.
type Signer struct {
	Secret []byte
	pool   sync.Pool
}

// Sign appends the signature of body to dst.
func (s *Signer) Sign(dst, body []byte) []byte {
	m, _ := s.pool.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, s.Secret)
	}
	m.Reset()
	m.Write(body)
	var sum [sha256.Size]byte
	dst = append(dst, "sha256="...)
	dst = hex.AppendEncode(dst, m.Sum(sum[:0]))
	s.pool.Put(m)
	return dst
}
