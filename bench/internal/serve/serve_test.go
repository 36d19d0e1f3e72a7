package serve

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
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
