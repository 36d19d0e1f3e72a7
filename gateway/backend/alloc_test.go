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

// TestSplitResultsCopies: each result is a copy, cut to its own length
// (appending to one never writes into the next), and a warm split costs
// two allocations (the slice and the buffer) whatever the batch's size;
// a fresh parser and a buffer per result cost 6 allocations per result.
// (Not under -race, whose sync.Pool drops items at random.)
func TestSplitResultsCopies(t *testing.T) {
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
	out, err := splitResults(body, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out {
		if i == 5 {
			if r != nil {
				t.Fatalf("result 5 has no messages but came back as %s", r)
			}
			continue
		}
		want := fmt.Sprintf(`{"messages":[{"text":"reply \u00e9 %d","quick_replies":[{"title":"a","payload":"p%d"}]}],"seq":%d}`, i, i, i)
		if string(r) != want || cap(r) != len(r) {
			t.Fatalf("result %d = %s (cap %d), want %s", i, r, cap(r), want)
		}
	}
	changed := bytes.Clone(body)
	out, err = splitResults(changed, 64)
	if err != nil {
		t.Fatal(err)
	}
	clear(changed) // the results do not alias the body
	if !bytes.HasPrefix(out[0], []byte(`{"messages":[{"text":"reply`)) {
		t.Fatalf("result 0 changed with the body: %s", out[0])
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := splitResults(body, 64); err != nil {
			t.Fatal(err)
		}
	}); n > 2 {
		t.Errorf("splitResults of 64 results allocates %.0f times, want at most 2", n)
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

// TestBatcherDeliverAllocs: a delivered event costs its batch's answer
// split (two allocations) and nothing of its own: its call, and the channel
// its outcome comes on, are reused (a fresh pair cost two more).
func TestBatcherDeliverAllocs(t *testing.T) {
	url := serve(t, func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(`{"results":[{}]}`) })
	b := NewBatcher(NewHTTP(url, []byte("k"), time.Second, 1), 1, time.Millisecond, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer b.Close()
	if _, n := deliverAllocs(t, b, []byte(`{"id":"e1","type":"text"}`)); n > 2.1 {
		t.Errorf("Deliver allocates %.2f times per event, want 2 (the answer's split)", n)
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
