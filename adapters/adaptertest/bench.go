package adaptertest

import (
	"context"
	"testing"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// BenchInbound measures Verify of body (when h is not nil) followed by
// Parse (when parse is set), as the gateway runs them per webhook. Pass
// headers as fasthttp holds them: adapters.Header copies on Peek and
// would distort allocation counts.
func BenchInbound(b *testing.B, a adapters.Inbound, h adapters.Peeker, body []byte, parse bool) {
	dst := make([]normalize.Event, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if h != nil {
			if err := a.Verify(h, body); err != nil {
				b.Fatal(err)
			}
		}
		if parse {
			var err error
			if dst, err = a.Parse(dst[:0], body); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// InboundAllocs pins a warm Verify of body to zero allocations and a warm
// Parse to at most maxParse. Run it without -race, which disturbs pools.
func InboundAllocs(t *testing.T, a adapters.Inbound, h adapters.Peeker, body []byte, maxParse float64) {
	if n := testing.AllocsPerRun(200, func() {
		if err := a.Verify(h, body); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Verify allocates %.1f times per call, want 0", n)
	}
	dst := make([]normalize.Event, 0, 8)
	if n := testing.AllocsPerRun(200, func() {
		var err error
		if dst, err = a.Parse(dst[:0], body); err != nil {
			t.Fatal(err)
		}
	}); n > maxParse {
		t.Errorf("Parse allocates %.1f times per call, want at most %.0f", n, maxParse)
	}
}

// BenchSend measures Send of r to to within ctx, against a mock API the
// caller started: render, one exchange or more, reading the answer.
func BenchSend(b *testing.B, ctx context.Context, a adapters.Outbound, to adapters.Recipient, r *normalize.Reply) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Send(ctx, to, r); err != nil {
			b.Fatal(err)
		}
	}
}
