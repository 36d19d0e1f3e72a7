package serve

import (
	"net"
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
// limit, as the gateway does (fasthttp's own 400 here, the gateway's JSON
// 413 there), and takes one at the limit.
func TestLikeGateway(t *testing.T) {
	ln, err := Listen("")
	if err != nil {
		t.Fatal(err)
	}
	srv := LikeGateway("test", func(*fasthttp.RequestCtx) {})
	go srv.Serve(ln) //nolint:errcheck // nil on Shutdown
	defer Shutdown(srv)
	for size, want := range map[int]int{config.DefaultMaxBodyBytes: 200, config.DefaultMaxBodyBytes + 1: 400} {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.Header.SetMethod(fasthttp.MethodPost)
		req.SetRequestURI("http://" + ln.Addr().String() + "/")
		req.SetBody(make([]byte, size))
		if err := fasthttp.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != want {
			t.Errorf("%d bytes: status %d, %v; want %d", size, resp.StatusCode(), err, want)
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
}
