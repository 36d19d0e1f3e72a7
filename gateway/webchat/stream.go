package webchat

import (
	"bufio"
	"encoding/json"
	"net"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/gateway/httpjson"
)

// streamBatch is how many stored frames one catch-up reads at a time.
const streamBatch = 64

// stream serves the conversation live as Server-Sent Events:
//
//	id: 42            the frame's seq (EventSource resends it as Last-Event-ID)
//	event: message
//	data: {frame JSON}
//
// It first replays every frame after after=SEQ (or the Last-Event-ID
// header, which wins: it is what a reconnecting EventSource sends), then
// sends each new frame once, in seq order, as it is stored. Typing frames
// come as "event: typing" without an id; "event: session" with
// {"reason": "ended"|"changed"|"shutdown"} closes the stream when the
// token was revoked or now names another conversation. A comment line
// every Heartbeat keeps proxies from closing an idle stream and detects
// a gone client.
func (s *Service) stream(ctx *fasthttp.RequestCtx, c *conn, ss *session, _, key string) {
	var after uint64
	v := ctx.Request.Header.Peek("Last-Event-ID")
	if len(v) == 0 {
		v = ctx.QueryArgs().Peek("after")
	}
	if len(v) > 0 {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			httpjson.Error(ctx, 400, "bad_after", "after must be the seq of the last frame seen")
			return
		}
		after = n
	}
	conv := ss.conv(c)
	// Subscribe before the first read, so nothing stored in between is
	// missed: a wake-up only makes the stream read again.
	sub := s.hub.subscribe(conv, key)
	if sub == nil {
		httpjson.RetryError(ctx, 503, "shutting_down", "the gateway is shutting down", time.Second)
		return
	}
	h, err := s.head(conv)
	if err != nil {
		s.hub.unsubscribe(sub)
		s.storeError(ctx, err)
		return
	}
	// A client ahead of the conversation (stale state from another one)
	// starts from its head rather than waiting for seqs it will never get.
	after = min(after, h)
	ctx.SetContentType("text/event-stream; charset=utf-8")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	nc := ctx.Conn()
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.hub.unsubscribe(sub)
		st := &streamer{s: s, w: w, nc: nc, conv: conv, last: after}
		st.run(sub)
	})
}

// streamer is one stream's writer side. It runs on fasthttp's stream
// goroutine and touches no request memory.
type streamer struct {
	s    *Service
	w    *bufio.Writer
	nc   net.Conn
	conv string
	last uint64
	buf  []byte
}

func (st *streamer) run(sub *sub) {
	st.buf = append(st.buf[:0], ": switchboard\nretry: 2000\n\n"...)
	if !st.flush() || !st.catchUp() {
		return
	}
	tick := time.NewTicker(st.s.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-sub.wake:
			if !st.wakeUp(sub.latest.Swap(nil)) {
				return
			}
		case f := <-sub.typing:
			b, _ := json.Marshal(f)
			st.buf = append(st.buf[:0], "event: typing\ndata: "...)
			st.buf = append(append(st.buf, b...), "\n\n"...)
			if !st.flush() {
				return
			}
		case reason := <-sub.ctrl:
			st.buf = append(st.buf[:0], "event: session\ndata: {\"reason\":\""...)
			st.buf = append(append(st.buf, reason...), "\"}\n\n"...)
			st.flush()
			return
		case <-tick.C:
			// The heartbeat also catches up: a frame stored by another
			// instance sharing the store wakes no one here.
			st.buf = append(st.buf[:0], ": hb\n\n"...)
			if !st.flush() || !st.catchUp() {
				return
			}
		}
	}
}

// catchUp sends every stored frame after the last one sent.
func (st *streamer) catchUp() bool {
	for {
		frames, err := st.s.after(st.conv, st.last, streamBatch)
		if err != nil {
			st.s.Log.Warn("webchat: stream read failed", "err", err)
			return false
		}
		if len(frames) == 0 {
			return true
		}
		st.buf = st.buf[:0]
		for _, b := range frames {
			st.add(b)
		}
		if !st.flush() {
			return false
		}
		if len(frames) < streamBatch {
			return true
		}
	}
}

// wakeUp sends what a wake-up announced: up to latest, the newest frame
// stored here, reading from the store only the frames before it that
// were not sent yet, and not past it (frames stored by other instances
// wait for the heartbeat's catch-up, as before). Without a hint (taken
// by an earlier wake-up), or told to, it catches up to the end.
func (st *streamer) wakeUp(latest *stored) bool {
	if latest == nil || latest == readToEnd {
		return st.catchUp()
	}
	for st.last+1 < latest.seq {
		frames, err := st.s.after(st.conv, st.last, min(streamBatch, int(latest.seq-1-st.last)))
		if err != nil {
			st.s.Log.Warn("webchat: stream read failed", "err", err)
			return false
		}
		if len(frames) == 0 {
			return st.catchUp() // not stored in order after all: read what is
		}
		st.buf = st.buf[:0]
		for _, b := range frames {
			st.add(b)
		}
		if !st.flush() {
			return false
		}
	}
	if st.last+1 != latest.seq {
		return true // sent already
	}
	st.buf = st.buf[:0]
	st.add(latest.data)
	return st.flush()
}

// add appends frame b, the one after the last sent, to the buffer.
func (st *streamer) add(b []byte) {
	st.last++
	st.buf = append(st.buf, "id: "...)
	st.buf = strconv.AppendUint(st.buf, st.last, 10)
	st.buf = append(st.buf, "\nevent: message\ndata: "...)
	st.buf = append(append(st.buf, b...), "\n\n"...)
}

// flush writes buf and pushes it to the client, moving the connection's
// write deadline first: the server's WriteTimeout, set once per
// response, would otherwise cut every stream after its first 30 s.
func (st *streamer) flush() bool {
	if st.nc != nil {
		st.nc.SetWriteDeadline(time.Now().Add(st.s.WriteTimeout))
	}
	if _, err := st.w.Write(st.buf); err != nil {
		return false
	}
	return st.w.Flush() == nil
}
