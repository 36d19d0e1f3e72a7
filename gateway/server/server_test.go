package server

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestShutdownWhileServeStarts: a shutdown (SIGTERM) may arrive before or
// while Serve starts; Serve then returns nil instead of serving on, and
// neither races the other (go test -race).
func TestShutdownWhileServeStarts(t *testing.T) {
	for i := range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := &Server{}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		for range i % 8 { // vary how far Serve got
			runtime.Gosched()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("round %d: Shutdown: %v", i, err)
		}
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Fatalf("round %d: Serve returned %v after Shutdown, want nil", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: Serve still serving after Shutdown", i)
		}
	}
}
