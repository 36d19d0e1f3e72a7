package serve

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/config"
)

func TestListenAndShutdown(t *testing.T) {
	ln, err := Listen("")
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); host != "127.0.0.1" {
		t.Errorf("listening on %s, want loopback", ln.Addr())
	}
	srv := &fasthttp.Server{Handler: func(*fasthttp.RequestCtx) {}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	// One answered request: Serve is under way before Shutdown (a
	// Shutdown that comes first would leave Serve running).
	if code, _, err := fasthttp.GetTimeout(nil, "http://"+ln.Addr().String()+"/", 5*time.Second); err != nil || code != fasthttp.StatusOK {
		t.Fatalf("GET: %d %v", code, err)
	}
	if err := Shutdown(srv); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if err := Shutdown(nil); err != nil {
		t.Fatalf("Shutdown(nil) = %v", err)
	}
}

// TestLikeGateway: a yardstick refuses a body over the gateway's default
// limit, as the gateway does, and takes one at the limit. The refusal is
// fasthttp's: a 400 (the gateway's own error handler makes it a JSON 413),
// or, when the server closes first, a broken pipe while the client is
// still writing; either way the handler never sees the body.
func TestLikeGateway(t *testing.T) {
	ln, err := Listen("")
	if err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int32
	srv := LikeGateway("test", func(*fasthttp.RequestCtx) { handled.Add(1) })
	go srv.Serve(ln) //nolint:errcheck // nil on Shutdown
	defer Shutdown(srv)
	post := func(size int) (int, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI("http://" + ln.Addr().String() + "/")
		req.SetBody(make([]byte, size))
		err := fasthttp.DoTimeout(req, resp, 5*time.Second)
		return resp.StatusCode(), err
	}
	if code, err := post(config.DefaultMaxBodyBytes); err != nil || code != 200 || handled.Load() != 1 {
		t.Fatalf("at the limit: status %d, %v, handled %d", code, err, handled.Load())
	}
	if code, err := post(config.DefaultMaxBodyBytes + 1); (err == nil && code != 400) || handled.Load() != 1 {
		t.Fatalf("over the limit: status %d, %v, handled %d; want refused", code, err, handled.Load())
	}
}
