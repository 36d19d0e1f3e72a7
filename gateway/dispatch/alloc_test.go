//go:build !race

package dispatch

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/gateway/store"
	"github.com/switchboard-gw/switchboard/normalize"
)

// TestExcludedSuccessAllocatesNothing: gobreaker asks excluded of every
// successful send too; answering it must not allocate.
func TestExcludedSuccessAllocatesNothing(t *testing.T) {
	if excluded(nil) {
		t.Fatal("a success excluded from the breaker's counts")
	}
	if n := testing.AllocsPerRun(100, func() { excluded(nil) }); n != 0 {
		t.Fatalf("excluded(nil) allocates %.0f times, want 0", n)
	}
}

// TestBreakerLookupAllocatesNothing: every send looks its breaker up; once
// made, finding it allocates nothing (a concatenated key allocated each
// time), and each (connection, bot) has its own.
func TestBreakerLookupAllocatesNothing(t *testing.T) {
	d := &Dispatcher{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	d.breakers = make(map[breakerKey]*breaker)
	conn, bot := strings.Clone("fb"), strings.Clone("106123456789012")
	b := d.breakerFor(conn, bot)
	if d.breakerFor("fb", "106123456789012") != b || d.breakerFor("fb", "2") == b || d.breakerFor("ig", "106123456789012") == b {
		t.Fatal("breakers are not one per (connection, bot)")
	}
	if n := testing.AllocsPerRun(100, func() { d.breakerFor(conn, bot) }); n != 0 {
		t.Fatalf("finding a breaker allocates %.0f times, want 0", n)
	}
}

// TestMarshalSpooledAllocs: a common reply's spool entry is its one
// buffer; the spooled value it is built from stays on the caller's stack
// (the encoding/json fallback for rich replies made it escape) and the
// buffer is sized for quick replies too (it grew for them): 3 before.
func TestMarshalSpooledAllocs(t *testing.T) {
	r := normalize.Reply{Text: "echo: hello", QuickReplies: []normalize.QuickReply{{Title: "Yes"}, {Title: "No"}}}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := marshalSpooled(&spooled{Connection: "fb", ResponsePath: "1/c/2", EventID: "m_1", Reply: r}); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Fatalf("marshalSpooled allocates %.0f times, want 1", n)
	}
}

// held blocks every send until release is closed, telling held once the
// first one came.
type held struct {
	came, release chan struct{}
	once          sync.Once
}

func (h *held) Send(context.Context, adapters.Recipient, *normalize.Reply) (adapters.Sent, error) {
	h.once.Do(func() { close(h.came) })
	<-h.release
	return adapters.Sent{MessageID: "m"}, nil
}

// TestAcceptAllocs: accepting a reply costs its spool entry and its job,
// nothing per call: the items go into the caller's slice (a fresh one
// each before) and Committed is a method (a closure each before). The
// conversation's lane is busy with a held send, so what is measured is
// Accept alone.
func TestAcceptAllocs(t *testing.T) {
	h := &held{came: make(chan struct{}), release: make(chan struct{})}
	d, st := newDispatcher(t, h)
	d.EnforceWindow = false
	defer close(h.release)
	lane := store.ConversationKey("fb", path("u1"))
	msgs := []normalize.Reply{{Text: "echo: hi"}}
	var items []store.Item
	accept := func() { items = d.Accept(lane, "ev", msgs, items[:0]) }
	accept()
	<-h.came // the lane's worker is in the first send, for good
	for range 300 {
		accept() // the lane's queue has grown past what is measured
	}
	if len(items) != 1 || items[0].Lane != lane || items[0].Kind != store.KindOutbound {
		t.Fatalf("items %+v", items)
	}
	if n := testing.AllocsPerRun(200, accept); n > 2.05 {
		t.Errorf("Accept of one reply allocates %.2f times, want 2 (its spool entry and its job)", n)
	}
	seqs, err := st.Spool(items)
	if err != nil {
		t.Fatal(err)
	}
	d.Committed(items, seqs, nil)
}
