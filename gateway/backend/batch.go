package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
)

// HeaderBatch carries the number of events in a batched POST.
const HeaderBatch = "X-Switchboard-Batch"

// Batcher is a Client that delivers events in batches: the events waiting
// at once (each lane's head: one conversation never has two in flight)
// go out in one POST
//
//	{"events": [event, ...]}
//
// signed like a single event, with X-Switchboard-Batch: n. A 2xx answer
// acknowledges all of them; its body may be empty or
//
//	{"results": [{"messages": [...]}, {}, ...]}
//
// one result per event, in order. A 2xx whose body lists no such results
// still acknowledges them all (the backend has them), without replies,
// and is logged. Anything else fails every event of the batch, and each
// is retried by its lane.
//
// Fewer POSTs means fewer syscalls and HTTP parses per event on both sides,
// at the price of up to Wait of added latency. A batch's first event waits
// only while events come close together (the one before it came within
// Wait, adapters.Arrivals); after a quiet spell it goes out at once, with
// only the events already waiting for a sender.
type Batcher struct {
	Log      *slog.Logger
	http     *HTTP
	max      int
	wait     time.Duration
	in       chan *call
	stop     chan struct{}
	arrivals adapters.Arrivals
}

type call struct {
	id    string
	event []byte
	busy  bool // it came close behind the one before
	// answer is the caller's buffer, given to Deliver: the sender appends
	// the event's result to it.
	answer []byte
	err    error
	done   chan struct{} // one value: the outcome is in
}

// calls are reused: Deliver takes one and puts it back once it has read
// the outcome, after which the sender no longer refers to it.
var calls = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

// errBatchAnswer is a 2xx answer whose results do not match the batch.
var errBatchAnswer = errors.New("backend: batch answer does not list one result per event")

// NewBatcher returns a batching client over h: at most maxEvents per
// POST, the first waiting at most wait; senders POSTs may be in flight.
func NewBatcher(h *HTTP, maxEvents int, wait time.Duration, senders int, log *slog.Logger) *Batcher {
	b := &Batcher{Log: log, http: h, max: maxEvents, wait: wait, in: make(chan *call), stop: make(chan struct{})}
	for range max(senders, 1) {
		go b.send()
	}
	return b
}

// Close stops the senders; Deliver calls after it fail.
func (b *Batcher) Close() { close(b.stop) }

// Deliver queues event for the next batch, waits for its outcome and
// appends its result to dst.
func (b *Batcher) Deliver(ctx context.Context, id string, event, dst []byte) ([]byte, error) {
	c := calls.Get().(*call)
	c.id, c.event, c.busy, c.answer = id, event, b.arrivals.Busy(time.Now(), b.wait), dst
	defer func() {
		*c = call{done: c.done}
		calls.Put(c)
	}()
	select {
	case b.in <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.stop:
		return nil, errors.New("backend: closed")
	}
	<-c.done // the sender always answers, within the HTTP timeout
	return c.answer, c.err
}

// send collects a batch (the first call, then whatever arrives within
// wait, up to max, or after a quiet spell only what is already waiting)
// and posts it, forever.
func (b *Batcher) send() {
	batch := make([]*call, 0, b.max)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var body []byte
	for {
		select {
		case c := <-b.in:
			batch = append(batch[:0], c)
		case <-b.stop:
			return
		}
		if batch[0].busy {
			timer.Reset(b.wait)
		collect:
			for len(batch) < b.max {
				select {
				case c := <-b.in:
					batch = append(batch, c)
				case <-timer.C:
					break collect
				}
			}
			timer.Stop()
		} else {
		waiting:
			for len(batch) < b.max {
				select {
				case c := <-b.in:
					batch = append(batch, c)
				default:
					break waiting
				}
			}
		}
		body = b.post(batch, body[:0])
		clear(batch)
	}
}

// post sends batch, answers every call, and returns the body buffer for
// reuse.
func (b *Batcher) post(batch []*call, body []byte) []byte {
	body = append(body, `{"events":[`...)
	for i, c := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, c.event...)
	}
	body = append(body, "]}"...)
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(b.http.URL)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.Set(HeaderBatch, strconv.Itoa(len(batch)))
	var sig [7 + 64]byte
	req.Header.SetBytesV(HeaderSignature, b.http.signer.Sign(sig[:0], body))
	req.SetBodyRaw(body)
	err := b.http.client.DoTimeout(req, resp, b.http.Timeout)
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		err = ErrTimeout
	case err != nil:
		err = fmt.Errorf("backend: %w", err)
	case resp.StatusCode() < 200 || resp.StatusCode() > 299:
		err = &StatusError{Status: resp.StatusCode()}
	}
	if err == nil && len(resp.Body()) > 0 {
		if aerr := writeResults(resp.Body(), batch); aerr != nil {
			b.Log.Warn("backend: batch answer unreadable, events acknowledged without replies", "events", len(batch), "err", aerr)
		}
	}
	for _, c := range batch {
		c.err = err
		c.done <- struct{}{} // c is the caller's again from here
	}
	return body
}

// resultParsers parse batch answers; a pooled parser keeps its value
// tree between answers, so a warm parse allocates nothing.
var resultParsers fastjson.ParserPool

// writeResults appends each result object of a batch answer that has
// messages to its call's answer, the caller's own buffer: the answer is
// copied once, into where the caller reads it, and a warm batch costs no
// allocation. A body that is not one result per call is refused whole,
// before anything is written.
func writeResults(body []byte, batch []*call) error {
	p := resultParsers.Get()
	defer resultParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return fmt.Errorf("%w: %v", errBatchAnswer, err)
	}
	rs := v.GetArray("results")
	if len(rs) != len(batch) {
		return fmt.Errorf("%w: %d results for %d events", errBatchAnswer, len(rs), len(batch))
	}
	for i, r := range rs {
		if r.Type() == fastjson.TypeObject && r.Get("messages") != nil {
			batch[i].answer = r.MarshalTo(batch[i].answer)
		}
	}
	return nil
}
