package traffic

import (
	"math/rand/v2"
	"sync"

	"github.com/switchboard-gw/switchboard/normalize"
)

// WebName is the web widget channel's name.
const WebName = "web"

// WebKinds are the kinds the web channel generates, as the widget sends
// them (adapters/web, POST /web/v1/{conn}/messages):
//   - text: a typed message;
//   - quick_reply: a tapped quick reply (its title and payload);
//   - postback: a tapped postback button (its payload).
var WebKinds = []string{"text", "quick_reply", "postback"}

// WebSession is one widget session: the token the browser holds and the
// channel id (visitor id) its messages come from.
type WebSession struct {
	Token, ChannelID string
}

// Web generates the widget messages of one web connection from sessions
// opened beforehand (SetSessions): Bearer-authorised JSON POSTs.
//
// The gateway names a web event by the conversation item it becomes
// ("web:{connection}:{channel_id}:{seq}"), which only its answer
// ({"id","seq"}) tells: each Event has an empty ID and the IDPrefix the
// seq completes.
type Web struct {
	connection string

	mu       sync.RWMutex
	sessions []WebSession
}

// NewWeb returns the generator of connection; it builds nothing until
// SetSessions.
func NewWeb(connection string) *Web { return &Web{connection: connection} }

// SetSessions sets the sessions messages are sent from.
func (g *Web) SetSessions(s []WebSession) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sessions = s
}

// Name implements Channel.
func (g *Web) Name() string { return WebName }

// Path is the messages route of the connection.
func (g *Web) Path() string { return "/web/v1/" + g.connection + "/messages" }

// Build implements Channel. Without sessions it builds a request no
// session authorises (and says so with an empty Events).
func (g *Web) Build(w *Webhook, kind string, rnd *rand.Rand) {
	w.Channel, w.Path, w.Kind = WebName, g.Path(), kind
	g.mu.RLock()
	var ss WebSession
	if len(g.sessions) > 0 {
		ss = g.sessions[rnd.IntN(len(g.sessions))]
	}
	g.mu.RUnlock()
	b := append(w.Body, `{"type":"`...)
	b = append(b, kind...)
	b = append(b, '"')
	switch kind {
	case "quick_reply":
		qr := quickReplies[rnd.IntN(len(quickReplies))]
		b = append(b, `,"text":`...)
		b = normalize.AppendString(b, qr[0])
		b = append(b, `,"payload":`...)
		b = normalize.AppendString(b, qr[1])
	case "postback":
		pb := postbacks[rnd.IntN(len(postbacks))]
		b = append(b, `,"payload":`...)
		b = normalize.AppendString(b, pb[1])
	default:
		b = append(b, `,"text":`...)
		b = normalize.AppendString(b, texts[rnd.IntN(len(texts))])
	}
	w.Body = append(b, '}')
	h := w.addHeader("Authorization")
	h.Value = append(append(h.Value, "Bearer "...), ss.Token...)
	if ss.Token == "" {
		return
	}
	w.Events = append(w.Events, Event{
		IDPrefix: "web:" + g.connection + ":" + ss.ChannelID + ":",
		User:     ss.ChannelID, OpensWindow: true,
	})
}

// Acked implements Channel: the web channel has no window to track.
func (g *Web) Acked(*Webhook) {}
