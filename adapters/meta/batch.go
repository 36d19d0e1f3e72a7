package meta

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/config"
	"github.com/switchboard-gw/switchboard/normalize"
)

// MaxBatch is the most calls the Graph API takes in one batch request.
const MaxBatch = 50

// Batcher gathers the Send API calls (POST /me/messages) of one connection
// made at about the same time into Graph batch requests
// (channels/meta.md §7, "Batch requests"): one POST to the Graph root
// (the API base without its version) with
//
//	access_token=<first call's token>&include_headers=false&batch=[
//	  {"method":"POST","relative_url":"v25.0/me/messages",
//	   "body":"recipient=…&messaging_type=…&message=…&access_token=<its token>"}, …]
//
// each call keeping its own Page token. Graph answers an array in the
// calls' order, each {"code":status,"body":"<the call's own answer>"} or
// null for a call it did not complete; each answer is classified as if it
// had been a call of its own, so retries, throttling and the breaker see
// no difference. A call Graph did not complete is transient
// (batch_incomplete); an answer that is not such an array fails every
// call of the batch the way a single call's answer would (a bad top-level
// token is bad_token for all).
//
// Graph runs a batch's calls in parallel, so a batch must never hold two
// messages whose order matters. Dispatch guarantees it: a conversation's
// replies go one at a time, each waiting for the outcome of the one before
// (a lane's head), and only heads meet in a batch. Handover calls are
// never batched.
//
// Fewer requests mean fewer syscalls and HTTP parses per reply on both
// sides, at the price of up to Wait of added latency for each reply. A
// batch's first call waits only while calls come close together (the one
// before it came within Wait, adapters.Arrivals): after a quiet spell a
// reply goes out at once. A batch that ends up with a single call goes
// out as that call, unbatched.
// Graph closes the connection after each batch answer, so every batch
// opens one.
//
// The zero value, and any Max below 2, sends every call on its own. Fields
// are read-only once in use.
type Batcher struct {
	// Max is the most calls per batch request: 2 to MaxBatch.
	Max int
	// Wait is how long the first call of a batch waits for others.
	Wait time.Duration

	mu       sync.Mutex
	open     *batch // collecting; nil when none is
	arrivals adapters.Arrivals
}

// batch is the calls of one batch request. The first to join leads: it
// waits for the batch to fill or for Wait, sends it and answers the rest.
type batch struct {
	ops  []*batchOp
	full chan struct{} // closed when ops reaches Max
	wait bool          // the leader came while calls were close together
}

// batchOp is one call in a batch and, once done holds a value, its
// outcome: the status and (owned) body Graph answered for it, or err.
type batchOp struct {
	token    string
	form     []byte
	deadline time.Time
	done     chan struct{} // one value: the outcome is in

	status int
	body   []byte
	hdr    adapters.Peeker
	err    error
}

// batchOps are reused: batched takes one per call and puts it back once
// it has read the outcome, after which the batch no longer refers to it.
var batchOps = sync.Pool{New: func() any { return &batchOp{done: make(chan struct{}, 1)} }}

func releaseOp(op *batchOp) {
	select {
	case <-op.done: // a leader's own, never waited for
	default:
	}
	*op = batchOp{done: op.done}
	batchOps.Put(op)
}

// NewBatcher returns the Batcher a connection's send_batch settings ask
// for, or nil when they ask for none.
func NewBatcher(c config.SendBatching) *Batcher {
	if c.SendBatch < 2 {
		return nil
	}
	return &Batcher{Max: min(c.SendBatch, MaxBatch), Wait: c.SendBatchWait}
}

func (bt *Batcher) on() bool { return bt != nil && bt.Max > 1 }

// join adds op to the open batch (opening one if none is) and returns it
// with whether op leads it. busy says calls are coming close together: the
// batch op opens then waits for others.
func (bt *Batcher) join(op *batchOp, busy bool) (b *batch, lead bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.open == nil {
		bt.open = &batch{ops: make([]*batchOp, 0, min(bt.Max, MaxBatch)), full: make(chan struct{}), wait: busy}
		lead = true
	}
	b = bt.open
	b.ops = append(b.ops, op)
	if len(b.ops) >= min(bt.Max, MaxBatch) {
		bt.open = nil
		close(b.full)
	}
	return b, lead
}

// seal waits until b is full or Wait has passed (not at all when its
// leader came after a quiet spell), then closes it to new calls and
// returns its calls.
func (bt *Batcher) seal(b *batch) []*batchOp {
	if b.wait {
		t := time.NewTimer(bt.Wait)
		select {
		case <-b.full:
		case <-t.C:
		}
		t.Stop()
	}
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if bt.open == b {
		bt.open = nil
	}
	return b.ops
}

// batched sends the rendered Send API body in b through e.Batch. alone
// reports that the call ended up on its own in its batch: the caller then
// makes it as a plain call, and nothing else was sent.
func (e *Endpoint) batched(ctx context.Context, b *sendBuf, token string) (status int, body []byte, hdr adapters.Peeker, alone bool, err error) {
	form, ok := appendForm(b.form[:0], &b.scratch, b.body, token)
	b.form = form
	if !ok {
		return 0, nil, nil, true, nil // not an object: let the plain call report it
	}
	if err := ctx.Err(); err != nil {
		return 0, nil, nil, false, adapters.NetworkError(err)
	}
	op := batchOps.Get().(*batchOp)
	defer releaseOp(op)
	op.token, op.form = token, form
	op.deadline, _ = ctx.Deadline()
	bch, lead := e.Batch.join(op, e.Batch.arrivals.Busy(time.Now(), e.Batch.Wait))
	if !lead {
		// Once joined, the call may go out: wait for its outcome whatever
		// ctx says, or a reply could be sent and reported failed. The
		// leader answers within the batch's deadline.
		<-op.done
		return op.status, op.body, op.hdr, false, op.err
	}
	ops := e.Batch.seal(bch)
	if len(ops) == 1 {
		return 0, nil, nil, true, nil
	}
	e.sendBatch(ops)
	return op.status, op.body, op.hdr, false, op.err
}

// sendBatch makes one batch request of ops and answers each of them.
func (e *Endpoint) sendBatch(ops []*batchOp) {
	defer func() {
		for _, op := range ops {
			op.done <- struct{}{} // op is its caller's again from here
		}
	}()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	bufs := acquireBuf()
	defer releaseBuf(bufs)

	root, version := batchTarget(e.APIBase)
	req.SetRequestURI(root)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-www-form-urlencoded")
	bufs.form = appendBatchJSON(bufs.form[:0], version, ops)
	bufs.body = append(bufs.body[:0], "access_token="...)
	bufs.body = fasthttp.AppendQuotedArg(bufs.body, []byte(ops[0].token))
	bufs.body = append(bufs.body, "&include_headers=false&batch="...)
	bufs.body = fasthttp.AppendQuotedArg(bufs.body, bufs.form)
	req.SetBodyRaw(bufs.body)

	ctx := context.Background()
	var latest time.Time
	for _, op := range ops {
		if op.deadline.IsZero() {
			latest = time.Time{}
			break
		}
		latest = maxTime(latest, op.deadline)
	}
	if !latest.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, latest)
		defer cancel()
	}
	var c Doer = defaultClient
	if e.Client != nil {
		c = e.Client
	}
	if err := adapters.Do(ctx, c, req, resp); err != nil {
		failAll(ops, adapters.NetworkError(err))
		return
	}
	hdr := adapters.Header{}
	for _, k := range [...]string{"Retry-After", "X-Business-Use-Case-Usage"} {
		if v := resp.Header.Peek(k); len(v) > 0 {
			hdr.Set(k, string(v))
		}
	}
	answerOps(ops, resp.StatusCode(), resp.Body(), hdr)
}

// answerOps gives each of ops its outcome from the batch answer body
// (with status and hdr): its own status and a copy of its own body, or an
// error.
func answerOps(ops []*batchOp, status int, body []byte, hdr adapters.Peeker) {
	p := respParsers.Get()
	defer respParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil || v.Type() != fastjson.TypeArray {
		// A batch refused whole answers a Graph error of its own.
		ae := Classify(status, body, hdr)
		if ae == nil {
			ae = badResponse(status, "batch answer is not an array")
		}
		failAll(ops, ae)
		return
	}
	answers, _ := v.Array()
	if len(answers) != len(ops) {
		failAll(ops, badResponse(status, "batch answer lists "+strconv.Itoa(len(answers))+" results for "+strconv.Itoa(len(ops))+" calls"))
		return
	}
	for i, a := range answers {
		op := ops[i]
		op.hdr = hdr
		code, answer := a.Get("code"), a.Get("body")
		switch {
		case a.Type() == fastjson.TypeNull:
			op.err = &adapters.APIError{Class: adapters.ClassTransient, Code: "batch_incomplete", HTTPStatus: status,
				Message: "Graph did not complete this call of the batch"}
		case code == nil || code.Type() != fastjson.TypeNumber || code.GetInt() < 100 || code.GetInt() > 599 ||
			answer == nil || answer.Type() != fastjson.TypeString:
			op.err = badResponse(status, "batch result "+strconv.Itoa(i)+" is not {code, body} with an HTTP status")
		default:
			op.status = code.GetInt()
			op.body = append([]byte(nil), answer.GetStringBytes()...)
		}
	}
}

func failAll(ops []*batchOp, err error) {
	for _, op := range ops {
		op.err = err
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// batchTarget splits the API base into where a batch request goes (the
// Graph root) and the version path its calls' relative_url carry, so each
// call runs at the configured version whatever the app's default is:
// https://graph.facebook.com/v25.0 → https://graph.facebook.com/ and
// "v25.0/". A base whose last path segment is no version is used as it
// is, with no version.
func batchTarget(apiBase string) (root, version string) {
	base := strings.TrimSuffix(apiBase, "/")
	i := strings.LastIndexByte(base, '/')
	if seg := base[i+1:]; i > 0 && base[i-1] != '/' && len(seg) > 1 && seg[0] == 'v' && seg[1] >= '0' && seg[1] <= '9' {
		return base[:i+1], seg + "/"
	}
	return base + "/", ""
}

// appendBatchJSON appends the batch parameter for ops: each a POST to
// version + me/messages.
func appendBatchJSON(dst []byte, version string, ops []*batchOp) []byte {
	dst = append(dst, '[')
	for i, op := range ops {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"method":"POST","relative_url":"`...)
		dst = append(dst, version...)
		dst = append(dst, strings.TrimPrefix(PathMessages, "/")...)
		dst = append(dst, `","body":`...)
		dst = normalize.AppendString(dst, adapters.View(op.form))
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

// appendForm appends the Send API body obj (a JSON object) as a form, the
// way a batched call carries its body: each member name=value, a string
// member's value being the string itself and any other its JSON text, all
// URL-encoded, then access_token=token. It reports false when obj is not
// a JSON object. Non-string members are encoded in *scratch, kept for the
// next call.
func appendForm(dst []byte, scratch *[]byte, obj []byte, token string) ([]byte, bool) {
	p := respParsers.Get()
	defer respParsers.Put(p)
	v, err := p.ParseBytes(obj)
	if err != nil || v.Type() != fastjson.TypeObject {
		return dst, false
	}
	o, _ := v.Object()
	o.Visit(func(k []byte, m *fastjson.Value) {
		dst = fasthttp.AppendQuotedArg(dst, k)
		dst = append(dst, '=')
		if m.Type() == fastjson.TypeString {
			dst = fasthttp.AppendQuotedArg(dst, m.GetStringBytes())
		} else {
			*scratch = m.MarshalTo((*scratch)[:0])
			dst = fasthttp.AppendQuotedArg(dst, *scratch)
		}
		dst = append(dst, '&')
	})
	dst = append(dst, "access_token="...)
	return fasthttp.AppendQuotedArg(dst, []byte(token)), true
}
