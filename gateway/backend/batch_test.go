package backend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters/meta"
)

// TestBatcher delivers events from many goroutines and checks they go
// out in fewer POSTs, signed, each answer mapped back to its event; a
// failing backend fails every event of the batch.
func TestBatcher(t *testing.T) {
	secret := []byte("k")
	var posts, events atomic.Int64
	var fail atomic.Bool
	url := serve(t, func(ctx *fasthttp.RequestCtx) {
		posts.Add(1)
		if fail.Load() {
			ctx.SetStatusCode(503)
			return
		}
		want := (&meta.Signer{Secret: secret}).Sign(nil, ctx.PostBody())
		if !bytes.Equal(ctx.Request.Header.Peek(HeaderSignature), want) {
			t.Errorf("batch signature %q, want %q", ctx.Request.Header.Peek(HeaderSignature), want)
		}
		v := fastjson.MustParseBytes(ctx.PostBody())
		evs := v.GetArray("events")
		if n, _ := strconv.Atoi(string(ctx.Request.Header.Peek(HeaderBatch))); n != len(evs) {
			t.Errorf("%s: %d, body holds %d events", HeaderBatch, n, len(evs))
		}
		events.Add(int64(len(evs)))
		out := []byte(`{"results":[`)
		for i, e := range evs {
			if i > 0 {
				out = append(out, ',')
			}
			if string(e.GetStringBytes("type")) == "read" {
				out = append(out, "{}"...)
				continue
			}
			out = fmt.Appendf(out, `{"messages":[{"text":"echo %s"}]}`, e.GetStringBytes("id"))
		}
		ctx.SetBody(append(out, "]}"...))
	})
	b := NewBatcher(NewHTTP(url, secret, time.Second, 4), 16, 20*time.Millisecond, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer b.Close()
	const n = 48
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("e", i)
			typ := "text"
			if i%4 == 0 {
				typ = "read"
			}
			ans, err := b.Deliver(context.Background(), id, []byte(fmt.Sprintf(`{"id":%q,"type":%q}`, id, typ)), nil)
			if err != nil {
				t.Errorf("%s: %v", id, err)
				return
			}
			want := fmt.Sprintf(`{"messages":[{"text":"echo %s"}]}`, id)
			if typ == "read" {
				want = ""
			}
			if string(ans) != want {
				t.Errorf("%s: answer %q, want %q", id, ans, want)
			}
		}()
	}
	wg.Wait()
	if events.Load() != n || posts.Load() >= n/2 {
		t.Fatalf("%d events in %d POSTs: want all %d in far fewer POSTs", events.Load(), posts.Load(), n)
	}
	fail.Store(true)
	if _, err := b.Deliver(context.Background(), "x", []byte(`{"id":"x"}`), nil); err == nil {
		t.Fatal("a 503 for the batch did not fail its event")
	}
}

// TestBatcherQuiet: an event after a quiet spell goes out at once, however
// long the wait; events close behind it wait for each other.
func TestBatcherQuiet(t *testing.T) {
	var posts, events atomic.Int64
	url := serve(t, func(ctx *fasthttp.RequestCtx) {
		posts.Add(1)
		events.Add(int64(len(fastjson.MustParseBytes(ctx.PostBody()).GetArray("events"))))
	})
	b := NewBatcher(NewHTTP(url, []byte("k"), time.Second, 4), 2, time.Hour, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer b.Close()
	deliver := func(ids ...string) {
		t.Helper()
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				if _, err := b.Deliver(context.Background(), id, []byte(`{"id":"`+id+`"}`), nil); err != nil {
					t.Error(err)
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%v waited for a batch", ids)
		}
	}
	deliver("e1")
	if posts.Load() != 1 || events.Load() != 1 {
		t.Fatalf("%d POSTs, %d events: want the quiet event alone", posts.Load(), events.Load())
	}
	deliver("e2", "e3")
	if posts.Load() != 2 || events.Load() != 3 {
		t.Fatalf("%d POSTs, %d events: want the two close events in one", posts.Load(), events.Load())
	}
}

// TestWriteResults checks a malformed batch answer is refused whole, with
// nothing written to any call's buffer.
func TestWriteResults(t *testing.T) {
	for body, ok := range map[string]bool{
		`{"results":[{},{"messages":[]}]}`:                true,
		`{"results":[{"messages":[{"text":"a"}]}]}`:       false,
		`{"results":[{"messages":[{"text":"a"}]},{},{}]}`: false,
		`{"messages":[]}`:                                 false,
		`not json`:                                        false,
	} {
		batch := []*call{{answer: []byte("kept:")}, {answer: []byte("kept:")}}
		err := writeResults([]byte(body), batch)
		if (err == nil) != ok {
			t.Errorf("%s: err %v", body, err)
		}
		if !ok && (string(batch[0].answer) != "kept:" || string(batch[1].answer) != "kept:") {
			t.Errorf("%s: refused, yet wrote %q, %q", body, batch[0].answer, batch[1].answer)
		}
	}
}
