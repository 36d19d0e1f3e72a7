package adapters

import (
	"context"
	"crypto/tls"
	"errors"
	"time"

	"github.com/valyala/fasthttp"
)

// Doer performs one HTTP exchange; *fasthttp.Client satisfies it, and
// tests swap in a fake or point an adapter's API base at a mock. Every
// adapter that calls its platform takes one (Client; nil means a default
// from NewClient).
type Doer interface {
	Do(req *fasthttp.Request, resp *fasthttp.Response) error
}

// DeadlineDoer is a Doer that can also bound one exchange by a deadline;
// *fasthttp.Client satisfies it. When a client implements it, Do passes
// the context's deadline down; otherwise only the client's own timeouts
// apply, and a context cancelled mid-call is noticed after it.
type DeadlineDoer interface {
	Doer
	DoDeadline(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error
}

// NewClient returns the client an adapter falls back on when it is given
// none, one per adapter package: named "switchboard", at most 512
// connections per host, idle ones kept a minute, waiting at most 5 s for
// a free one, writing within 10 s and reading answers of at most 1 MiB
// within readTimeout. readTimeout is the longest the platform may take to
// answer (fetching media by URL, say); the gateway's per-call context
// deadline is normally much shorter.
//
// Its TLS settings are TLSConfig's.
func NewClient(readTimeout time.Duration) *fasthttp.Client {
	return &fasthttp.Client{
		Name:                "switchboard",
		TLSConfig:           TLSConfig(),
		ReadTimeout:         readTimeout,
		WriteTimeout:        10 * time.Second,
		MaxConnsPerHost:     512,
		MaxIdleConnDuration: time.Minute,
		MaxConnWaitTimeout:  5 * time.Second,
		MaxResponseBodySize: 1 << 20,
	}
}

// TLSConfig is the TLS side of the gateway's outgoing clients: TLS 1.2 or
// later, and new connections resume an earlier session when they can (a
// client session cache). A Graph batch answer closes its connection, idle
// connections time out and a backend's load balancer drops them;
// resuming skips the certificate chain and its verification.
func TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(256)}
}

// Do performs one exchange through c within ctx: when ctx is done already
// it returns ctx.Err() without calling; when ctx has a deadline and c is
// a DeadlineDoer, the deadline bounds the exchange. Errors are c's or
// ctx's, unwrapped: NetworkError classifies them.
func Do(ctx context.Context, c Doer, req *fasthttp.Request, resp *fasthttp.Response) error {
	return DoBefore(ctx, c, req, resp, time.Time{})
}

// DoBefore is Do bounded also by limit, unless limit is zero: the earlier
// of limit and ctx's deadline is passed to a DeadlineDoer.
func DoBefore(ctx context.Context, c Doer, req *fasthttp.Request, resp *fasthttp.Response, limit time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dl, ok := ctx.Deadline()
	if !limit.IsZero() && (!ok || limit.Before(dl)) {
		dl, ok = limit, true
	}
	if dd, isDD := c.(DeadlineDoer); ok && isDD {
		return dd.DoDeadline(req, resp, dl)
	}
	return c.Do(req, resp)
}

// NetworkError classifies a call that got no HTTP answer, all transient:
// a timeout (fasthttp's, a dial timeout or the context's deadline) is
// "timeout", a cancelled context "canceled", anything else "network". The
// message is err's: callers must not wrap err with a URL or header that
// carries a token.
func NetworkError(err error) *APIError {
	ae := &APIError{Class: ClassTransient, Code: "network", Message: err.Error()}
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, fasthttp.ErrTimeout),
		errors.Is(err, fasthttp.ErrDialTimeout), errors.As(err, &te) && te.Timeout():
		ae.Code = "timeout"
	case errors.Is(err, context.Canceled):
		ae.Code = "canceled"
	}
	return ae
}
