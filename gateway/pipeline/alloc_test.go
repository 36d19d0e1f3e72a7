//go:build !race

package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/gateway/lanes"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// longText is a 1 KB text event, as the bench's text mix sends.
func longText() *normalize.Event {
	ev := text("messenger:m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwl", "7023456789012345",
		time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC))
	ev.Text = strings.Repeat("Could you check whether my order has shipped yet? ", 16)
	ev.VisitorID = "v_0123456789abcdef0123456789abcdef"
	return &ev
}

// TestEncodeInboundAllocs: a spool entry is encoded in the pooled scratch
// and copied out at its size: one allocation for a 1 KB message, where a
// fresh 512-byte buffer grew twice (3), and the entry decodes to the
// event's id and canonical JSON.
func TestEncodeInboundAllocs(t *testing.T) {
	ev := longText()
	var scratch []byte
	data := encodeInbound(&scratch, ev)
	id, js, err := decodeInbound(data)
	if err != nil || id != ev.ID || !bytes.Equal(js, ev.AppendJSON(nil)) {
		t.Fatalf("decoded %q, %s, %v", id, js, err)
	}
	if cap(data) > len(data)+len(data)/8 {
		t.Errorf("entry of %d bytes keeps %d", len(data), cap(data))
	}
	again := encodeInbound(&scratch, ev)
	if &again[0] == &data[0] || len(scratch) > 0 && &again[0] == &scratch[0] {
		t.Fatal("entries share memory with each other or the scratch")
	}
	if n := testing.AllocsPerRun(200, func() { data = encodeInbound(&scratch, ev) }); n != 1 {
		t.Errorf("encodeInbound allocates %.0f times, want 1", n)
	}
}

func BenchmarkEncodeInbound(b *testing.B) {
	ev := longText()
	var scratch []byte
	b.ReportAllocs()
	for b.Loop() {
		encodeInbound(&scratch, ev)
	}
}

// answering is a backend that answers every event with one reply.
type answering struct{ answer []byte }

func (a *answering) Deliver(_ context.Context, _ string, _, dst []byte) ([]byte, error) {
	return append(dst, a.answer...), nil
}

// oneItem stands in for dispatch: each reply becomes one spool item.
type oneItem struct{ committed atomic.Int64 }

func (*oneItem) Accept(lane, _ string, msgs []normalize.Reply, items []store.Item) []store.Item {
	for range msgs {
		items = append(items, store.Item{Kind: store.KindOutbound, Lane: lane})
	}
	return items
}

func (o *oneItem) Committed(items []store.Item, _ []uint64, _ error) {
	o.committed.Add(int64(len(items)))
}

func (*oneItem) Push([]store.Entry) {}

// syncAcks commits every AckAsync at once, on the caller's goroutine, so
// the store's own allocations stay out of the count; the pipeline's
// forward uses nothing else of it.
type syncAcks struct{ store.Store }

func (syncAcks) AckAsync(_ uint64, _ []store.Item, done func([]uint64, error)) { done(nil, nil) }

// TestForwardAllocs: delivering an event and acking it with its replies
// allocates what decoding the answer does (the replies) and nothing of
// its own: the answer is read into a pooled buffer (a copy each before)
// and the ack's callback is bound once in a pooled value (a closure each
// before); the replies reach Committed.
func TestForwardAllocs(t *testing.T) {
	answer := []byte(`{"messages":[{"text":"echo: hi","quick_replies":[{"content_type":"text","title":"Yes","payload":"Y"}]}]}`)
	replies := &oneItem{}
	p := &Pipeline{Backend: &answering{answer}, Replies: replies, Store: syncAcks{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	j := job{seq: 7, id: "messenger:m_1", event: []byte(`{"id":"messenger:m_1"}`)}
	forward := func() {
		if r := p.forward(context.Background(), "fb|1/c/2", j, 1); r != lanes.Done {
			t.Fatalf("forward: %v", r)
		}
	}
	for range 10 {
		forward()
	}
	if replies.committed.Load() != 10 {
		t.Fatalf("%d replies committed after 10 events, want 10", replies.committed.Load())
	}
	decode := testing.AllocsPerRun(200, func() {
		if _, err := normalize.DecodeAnswer(answer); err != nil {
			t.Fatal(err)
		}
	})
	if n := testing.AllocsPerRun(200, forward); n > decode {
		t.Errorf("forward allocates %.0f times per event, want %.0f: decoding the answer's replies", n, decode)
	}
}
