package dispatch

import (
	"encoding/json"

	"github.com/switchboard-gw/switchboard/normalize"
)

// spooled is the spool entry of a reply: where it goes and what it says.
type spooled struct {
	Connection   string          `json:"c"`
	ResponsePath string          `json:"p"`
	EventID      string          `json:"e,omitempty"`
	Reply        normalize.Reply `json:"r"`
}

// marshalSpooled is json.Marshal(s), byte for byte; a reply made only of
// the members normalize.DecodeAnswer reads in one pass (text, quick
// replies, sender action, messaging type, tag, otn: what most bots send)
// is written append-style instead of through reflection.
func marshalSpooled(s *spooled) ([]byte, error) {
	r := &s.Reply
	if len(r.Buttons) > 0 || len(r.Cards) > 0 || r.Attachment != nil || r.Media != nil || r.OTNRequest != nil || len(r.ChannelData) > 0 {
		c := *s // a copy escapes to encoding/json, so that s need not
		return json.Marshal(&c)
	}
	// Sized for the whole entry (escapes aside) so that it never grows.
	n := 96 + len(s.Connection) + len(s.ResponsePath) + len(s.EventID) + 2*len(r.Text) +
		len(r.SenderAction) + len(r.MessagingType) + len(r.Tag)
	for i := range r.QuickReplies {
		q := &r.QuickReplies[i]
		n += 48 + len(q.Type) + len(q.Title) + len(q.Payload) + len(q.ImageURL)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"c":`...)
	b = normalize.AppendString(b, s.Connection)
	b = append(b, `,"p":`...)
	b = normalize.AppendString(b, s.ResponsePath)
	if s.EventID != "" {
		b = append(b, `,"e":`...)
		b = normalize.AppendString(b, s.EventID)
	}
	b = append(b, `,"r":{`...)
	start := len(b)
	b = appendMember(b, start, "text", r.Text)
	if len(r.QuickReplies) > 0 {
		b = appendKey(b, start, "quick_replies")
		b = append(b, '[')
		for i := range r.QuickReplies {
			q := &r.QuickReplies[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			qs := len(b)
			b = appendMember(b, qs, "type", q.Type)
			b = appendMember(b, qs, "title", q.Title)
			b = appendMember(b, qs, "payload", q.Payload)
			b = appendMember(b, qs, "image_url", q.ImageURL)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendMember(b, start, "sender_action", r.SenderAction)
	b = appendMember(b, start, "messaging_type", r.MessagingType)
	b = appendMember(b, start, "tag", r.Tag)
	if r.OTN {
		b = appendKey(b, start, "otn")
		b = append(b, "true"...)
	}
	return append(b, "}}"...), nil
}

// appendKey starts member name of an object whose members begin at
// start, with a comma unless it is the first.
func appendKey(b []byte, start int, name string) []byte {
	if len(b) > start {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// appendMember appends name: v unless v is empty (omitempty).
func appendMember(b []byte, start int, name, v string) []byte {
	if v == "" {
		return b
	}
	return normalize.AppendString(appendKey(b, start, name), v)
}
