//go:build !race

package pipeline

import (
	"bytes"
	"strings"
	"testing"
	"time"

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
