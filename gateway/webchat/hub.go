package webchat

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/switchboard-gw/switchboard/adapters/web"
)

// Session-control reasons sent to a stream before it is closed: the
// widget then reloads its session (from localStorage, where the tab that
// caused it left the new token).
const (
	reasonEnded    = "ended"    // the token was revoked (logout, identify)
	reasonChanged  = "changed"  // the token now names another conversation (reset)
	reasonShutdown = "shutdown" // the gateway is stopping: reconnect later
)

// hub tracks the live streams of this instance by conversation and by
// session token. A subscriber is woken, never handed history: it sends
// what it has not sent yet, so a slow tab never loses or duplicates
// anything and the hub never buffers history. The wake-up carries one
// hint, the latest frame this instance stored in the conversation, so a
// stream that is only that frame behind sends it without reading the
// store, and knows where the conversation ends without reading past it.
// The maps hold only open streams, so they are bounded by connections,
// not by visitors.
type hub struct {
	mu      sync.Mutex
	byConv  map[string]map[*sub]struct{}
	byToken map[string]map[*sub]struct{}
	closed  bool
}

// sub is one open stream.
type sub struct {
	conv, token string
	wake        chan struct{}  // cap 1: something was appended
	typing      chan web.Frame // ephemeral frames; dropped when full
	ctrl        chan string    // cap 1: end with this session reason
	// latest is the newest frame stored here since the stream last
	// looked, set before each wake and taken (swapped for nil) by the
	// stream; readToEnd after frames it must read (a merge stored
	// several).
	latest atomic.Pointer[stored]
}

// stored is a frame as stored: its seq and JSON, never modified.
type stored struct {
	seq  uint64
	data []byte
}

// readToEnd is the hint that tells a stream to read the store to the end.
// Its seq outranks every frame's, so a frame's hint arriving after it
// cannot hide what it stands for.
var readToEnd = &stored{seq: math.MaxUint64}

func newHub() *hub {
	return &hub{byConv: map[string]map[*sub]struct{}{}, byToken: map[string]map[*sub]struct{}{}}
}

// subscribe registers a stream; nil when the hub is closed.
func (h *hub) subscribe(conv, token string) *sub {
	s := &sub{conv: conv, token: token, wake: make(chan struct{}, 1), typing: make(chan web.Frame, 8), ctrl: make(chan string, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	add(h.byConv, conv, s)
	add(h.byToken, token, s)
	return s
}

func add(m map[string]map[*sub]struct{}, k string, s *sub) {
	set := m[k]
	if set == nil {
		set = map[*sub]struct{}{}
		m[k] = set
	}
	set[s] = struct{}{}
}

func remove(m map[string]map[*sub]struct{}, k string, s *sub) {
	if set := m[k]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

func (h *hub) unsubscribe(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	remove(h.byConv, s.conv, s)
	remove(h.byToken, s.token, s)
}

// notify wakes every stream of conv after f was stored in it (f nil:
// after frames the streams must read from the store).
func (h *hub) notify(conv string, f *stored) {
	if f == nil {
		f = readToEnd
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.byConv[conv] {
		// Appenders may notify out of order: keep the newest.
		if old := s.latest.Load(); old == nil || f.seq > old.seq {
			s.latest.Store(f)
		}
		select {
		case s.wake <- struct{}{}:
		default: // already woken
		}
	}
}

// ephemeral sends a frame that is not stored (typing) to conv's streams,
// dropping it for a stream that is behind.
func (h *hub) ephemeral(conv string, f *web.Frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.byConv[conv] {
		select {
		case s.typing <- *f:
		default:
		}
	}
}

// end tells every stream of session token to stop with reason.
func (h *hub) end(token, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.byToken[token] {
		select {
		case s.ctrl <- reason:
		default:
		}
	}
}

// close ends every stream and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, set := range h.byConv {
		for s := range set {
			select {
			case s.ctrl <- reasonShutdown:
			default:
			}
		}
	}
}

// count is the number of open streams.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, set := range h.byConv {
		n += len(set)
	}
	return n
}
