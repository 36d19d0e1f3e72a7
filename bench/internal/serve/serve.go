// Package serve holds the lifecycle the bench suite's fasthttp servers
// share (the ceiling, the mock backend, the channel mock): listen on an
// address, a free loopback port by default, and shut down with a bounded
// wait. Each server keeps its own fasthttp.Server settings and handler.
package serve

import (
	"context"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultAddr is what Listen uses for "": a free port on loopback.
const DefaultAddr = "127.0.0.1:0"

// ShutdownWait bounds how long Shutdown waits for requests in flight.
const ShutdownWait = 5 * time.Second

// Listen listens on TCP addr, DefaultAddr when addr is "".
func Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	return net.Listen("tcp", addr)
}

// Shutdown stops srv, waiting up to ShutdownWait for requests in flight.
// A nil srv (never started) is no error.
func Shutdown(srv *fasthttp.Server) error {
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownWait)
	defer cancel()
	return srv.ShutdownWithContext(ctx)
}
