//go:build !race

package server

import (
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/connections"
)

// TestSeriesLookupsAllocateNothing pins what the webhook path relies on:
// once a connection's series exist, counting a webhook and recording its
// duration allocate nothing.
func TestSeriesLookupsAllocateNothing(t *testing.T) {
	var m metrics
	m.webhook("alloc-test", "ok")
	m.events("alloc-test", 1, 1)
	m.took("alloc-test", time.Now())
	n := testing.AllocsPerRun(200, func() {
		m.webhook("alloc-test", "ok")
		m.events("alloc-test", 1, 1)
		m.took("alloc-test", time.Now())
	})
	if n != 0 {
		t.Fatalf("%.1f allocations per webhook's metrics, want 0", n)
	}
	if len(m.counters) != 3 || len(m.durations) != 1 {
		t.Fatalf("series made: %d counters, %d histograms; want 3 and 1", len(m.counters), len(m.durations))
	}
}

// TestWebhookRoutingAllocatesNothing: a request to a configured
// connection's webhook route reaches its handler without an allocation
// (the routes are static: no path parameters copied). The handshake is
// the handler here because it needs nothing else of the gateway.
func TestWebhookRoutingAllocatesNothing(t *testing.T) {
	s := &Server{Conns: connections.NewSet(&connections.Conn{Name: "fb", Channel: "messenger", Handshaker: challenge{}})}
	h := s.Handler()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodGet)
	ctx.Request.SetRequestURI("/webhooks/messenger/fb?hub.challenge=42")
	serve := func() {
		ctx.Response.Reset()
		h(&ctx)
		ctx.ResetUserValues()
	}
	serve()
	if got := string(ctx.Response.Body()); ctx.Response.StatusCode() != 200 || got != "42" {
		t.Fatalf("handshake answered %d %q, want 200 42", ctx.Response.StatusCode(), got)
	}
	if n := testing.AllocsPerRun(200, serve); n != 0 {
		t.Fatalf("%.1f allocations per routed webhook request, want 0", n)
	}
}

// challenge echoes hub.challenge, as Meta's handshake does once verified.
type challenge struct{}

func (challenge) Handshake(q adapters.Peeker) ([]byte, error) { return q.Peek("hub.challenge"), nil }
