//go:build !race

package backend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestWriteResultsCopies: each result is appended to its own call's
// buffer (after what it held), a result without messages leaves its
// buffer as it was, the results do not alias the body, and a warm batch
// of 64 allocates nothing: the answer is copied once, into the caller's
// buffer (a split into a buffer of the batch's own, read from there into
// the caller's, cost two allocations per batch and a second copy).
// (Not under -race, whose sync.Pool drops items at random.)
func TestWriteResultsCopies(t *testing.T) {
	var body []byte
	body = append(body, `{"results":[`...)
	for i := range 64 {
		if i > 0 {
			body = append(body, ',')
		}
		if i == 5 {
			body = append(body, `{}`...) // no messages: no reply
			continue
		}
		body = fmt.Appendf(body, `{"messages":[{"text":"reply \u00e9 %d","quick_replies":[{"title":"a","payload":"p%d"}]}],"seq":%d}`, i, i, i)
	}
	body = append(body, "]}"...)
	batch := make([]*call, 64)
	for i := range batch {
		batch[i] = &call{answer: []byte("kept:")}
	}
	if err := writeResults(body, batch); err != nil {
		t.Fatal(err)
	}
	for i, c := range batch {
		want := fmt.Sprintf(`kept:{"messages":[{"text":"reply \u00e9 %d","quick_replies":[{"title":"a","payload":"p%d"}]}],"seq":%d}`, i, i, i)
		if i == 5 {
			want = "kept:"
		}
		if string(c.answer) != want {
			t.Fatalf("result %d = %s, want %s", i, c.answer, want)
		}
	}
	changed := bytes.Clone(body)
	for _, c := range batch {
		c.answer = c.answer[:0]
	}
	if err := writeResults(changed, batch); err != nil {
		t.Fatal(err)
	}
	clear(changed) // the results do not alias the body
	if !bytes.HasPrefix(batch[0].answer, []byte(`{"messages":[{"text":"reply`)) {
		t.Fatalf("result 0 changed with the body: %s", batch[0].answer)
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, c := range batch {
			c.answer = c.answer[:0]
		}
		if err := writeResults(body, batch); err != nil {
			t.Fatal(err)
		}
	}); n > 0 {
		t.Errorf("writeResults of 64 results allocates %.0f times, want 0", n)
	}
}

// deliverAllocs delivers event through c, reading each answer into one
// reused buffer, and returns the last answer and the allocations per
// delivery once warm.
func deliverAllocs(t *testing.T, c Client, event []byte) ([]byte, float64) {
	t.Helper()
	var answer []byte
	deliver := func() {
		var err error
		if answer, err = c.Deliver(context.Background(), "e1", event, answer[:0]); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		deliver()
	}
	return answer, testing.AllocsPerRun(500, deliver)
}

// TestBatcherDeliverAllocs: a delivered event allocates nothing once warm:
// its call, and the channel its outcome comes on, are reused (a fresh
// pair cost two), and its result is written into the caller's buffer (a
// split of the batch's answers into a buffer of their own cost two more
// per batch).
func TestBatcherDeliverAllocs(t *testing.T) {
	url := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"results":[{"messages":[{"text":"echo"}]}]}`) })
	b := NewBatcher(NewHTTP(url, []byte("k"), time.Second, 1), 1, time.Millisecond, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer b.Close()
	answer, n := deliverAllocs(t, b, []byte(`{"id":"e1","type":"text"}`))
	if string(answer) != `{"messages":[{"text":"echo"}]}` {
		t.Fatalf("answer %q", answer)
	}
	if n > 0.05 {
		t.Errorf("Deliver allocates %.2f times per event, want 0", n)
	}
}

// TestHTTPDeliverAllocs: a warm delivery allocates nothing: the request
// and response are fasthttp's pooled ones, the signature is written on
// the stack, and the answer is appended to the caller's buffer (a copy
// of its own each before).
func TestHTTPDeliverAllocs(t *testing.T) {
	url := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"messages":[{"text":"echo: hi"}]}`) })
	answer, n := deliverAllocs(t, NewHTTP(url, []byte("k"), time.Second, 1), []byte(`{"id":"e1","type":"text","text":"hi"}`))
	if string(answer) != `{"messages":[{"text":"echo: hi"}]}` {
		t.Fatalf("answer %q", answer)
	}
	if n > 0.05 {
		t.Errorf("Deliver allocates %.2f times per event, want 0", n)
	}
}
