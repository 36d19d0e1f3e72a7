// Package backend delivers canonical events to the bot backend (DESIGN §4):
// one signed POST per event, and the backend's optional synchronous replies
// read from its answer. The built-in echo bot is a Client too, so the
// embedded default runs with no backend at all.
package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
)

// Headers sent with every event. The signature uses the scheme of Meta's
// X-Hub-Signature-256 ("sha256=" and the hex HMAC-SHA256 of the raw body),
// so a backend can verify it with code it may already have, and the
// gateway signs with the same pooled, allocation-free meta.Signer.
const (
	HeaderSignature = "X-Switchboard-Signature"
	HeaderEventID   = "X-Switchboard-Event-Id"
)

// Client delivers one event and appends the backend's answer body to dst
// (nothing when it had nothing to say), returning the extended buffer, so
// a caller reusing one buffer reads every answer without an allocation.
// Any error means "not delivered". A Client keeps no reference to dst.
type Client interface {
	Deliver(ctx context.Context, eventID string, event, dst []byte) (answer []byte, err error)
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
	signer  *meta.Signer
	client  *fasthttp.Client
}

// NewHTTP returns a client for url signing with secret; concurrency sizes
// its connection pool.
func NewHTTP(url string, secret []byte, timeout time.Duration, concurrency int) *HTTP {
	return &HTTP{
		URL:     url,
		Timeout: timeout,
		signer:  &meta.Signer{Secret: secret},
		client: &fasthttp.Client{
			Name:                          "switchboard",
			TLSConfig:                     adapters.TLSConfig(),
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

// Deliver posts event and appends the answer body to dst on 2xx.
func (h *HTTP) Deliver(ctx context.Context, eventID string, event, dst []byte) ([]byte, error) {
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
	return append(dst, resp.Body()...), nil
}
