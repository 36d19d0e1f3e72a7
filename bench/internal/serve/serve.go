// Package serve holds the lifecycle the bench suite's fasthttp servers
// share (the ceiling, the reference pipeline, the mock backend, the
// channel mock): listen on an address, a free loopback port by default,
// and shut down with a bounded wait; and the gateway's server settings,
// which the yardsticks use (LikeGateway). The mocks keep settings of their
// own.
package serve

import (
	"context"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/config"
)

// DefaultAddr is what Listen uses for "": a free port on loopback.
const DefaultAddr = "127.0.0.1:0"

// LikeGateway is a fasthttp server for handler h with the gateway's own
// settings (gateway/server: the default limits.max_body_bytes, its read,
// write and idle timeouts), so a yardstick (the ceiling, the reference
// pipeline) answers under the limits of the server it is compared with.
func LikeGateway(name string, h fasthttp.RequestHandler) *fasthttp.Server {
	return &fasthttp.Server{
		Handler:               h,
		Name:                  name,
		MaxRequestBodySize:    config.DefaultMaxBodyBytes,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: true,
	}
}

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
