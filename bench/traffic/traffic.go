package traffic

import (
	"fmt"
	"math/rand/v2"
)

// Channel writes the webhooks of one channel. Implementations are safe for
// concurrent use: workers share one Channel, each with its own Webhook.
type Channel interface {
	// Name is the channel name, as in -mix and in webhook routes.
	Name() string
	// Build fills w (already Reset) with one webhook of kind. It may
	// substitute another kind when kind cannot be made yet (a read
	// receipt needs a conversation); w.Kind says what was built.
	Build(w *Webhook, kind string, rnd *rand.Rand)
	// Acked is told that the gateway answered w with 2xx, so the
	// conversations its events opened are open.
	Acked(w *Webhook)
}

// Webhook is one request to send. Workers reuse it: Reset keeps the
// buffers.
type Webhook struct {
	Channel string
	Kind    string
	// Path is the route, e.g. /webhooks/messenger/bench.
	Path   string
	Body   []byte
	Header []Header
	// Events are the canonical events the gateway derives from Body, in
	// order.
	Events []Event
}

// Header is one request header.
type Header struct {
	Name  string
	Value []byte
}

// Event is one canonical event a webhook carries, as the gateway will
// name it.
type Event struct {
	// ID is the canonical event id (the dedup key the backend receives in
	// X-Switchboard-Event-Id). Empty when the gateway's answer names it:
	// IDPrefix then holds what comes before the seq the answer carries
	// (the web channel's "web:{connection}:{channel_id}:").
	ID       string
	IDPrefix string
	// User is the channel id replies to the event go to (a PSID).
	User string
	// OpensWindow: the event is the person's own action, which opens the
	// channel's messaging window.
	OpensWindow bool
	// slot is the channel's index of User.
	slot int
}

// Reset empties w for reuse.
func (w *Webhook) Reset() {
	w.Channel, w.Kind, w.Path = "", "", ""
	w.Body = w.Body[:0]
	for i := range w.Header {
		w.Header[i].Value = w.Header[i].Value[:0]
	}
	w.Header = w.Header[:0]
	clear(w.Events)
	w.Events = w.Events[:0]
}

// addHeader appends a header whose value the caller then appends to.
func (w *Webhook) addHeader(name string) *Header {
	if len(w.Header) < cap(w.Header) {
		w.Header = w.Header[:len(w.Header)+1]
	} else {
		w.Header = append(w.Header, Header{})
	}
	h := &w.Header[len(w.Header)-1]
	h.Name = name
	return h
}

// Generator picks a channel:kind per the mix and builds it.
type Generator struct {
	channels []Channel
	kinds    []string
	cum      []float64 // cumulative weights
}

// NewGenerator returns a generator for mix over the given channels.
func NewGenerator(mix Mix, channels ...Channel) (*Generator, error) {
	byName := map[string]Channel{}
	for _, c := range channels {
		byName[c.Name()] = c
	}
	g := &Generator{}
	total := 0.0
	for _, s := range mix {
		c, ok := byName[s.Channel]
		if !ok {
			return nil, fmt.Errorf("%w: %s", errNoChannel, s.Channel)
		}
		total += s.Weight
		g.channels = append(g.channels, c)
		g.kinds = append(g.kinds, s.Kind)
		g.cum = append(g.cum, total)
	}
	if len(g.cum) == 0 {
		return nil, fmt.Errorf("traffic: empty mix")
	}
	return g, nil
}

// Next fills w with the next webhook.
func (g *Generator) Next(w *Webhook, rnd *rand.Rand) {
	x := rnd.Float64() * g.cum[len(g.cum)-1]
	i := 0
	for i < len(g.cum)-1 && x >= g.cum[i] {
		i++
	}
	w.Reset()
	g.channels[i].Build(w, g.kinds[i], rnd)
}

// Acked passes a 2xx answer to w's channel.
func (g *Generator) Acked(w *Webhook) {
	for _, c := range g.channels {
		if c.Name() == w.Channel {
			c.Acked(w)
			return
		}
	}
}
