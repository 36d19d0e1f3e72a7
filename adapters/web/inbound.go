package web

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Limits of a browser message.
const (
	MaxText     = 8 << 10 // bytes of text
	MaxPayload  = 1 << 10 // bytes of payload
	MaxMetadata = 8 << 10 // bytes of a metadata object
)

var parsers fastjson.ParserPool

// ParseMessage reads the body of POST /web/v1/{conn}/messages. It refuses,
// with an *adapters.InputError, anything but one JSON object of known
// fields holding a text or a payload within the limits. The result owns
// its memory.
func ParseMessage(body []byte) (MessageBody, error) {
	var m MessageBody
	if !utf8.Valid(body) {
		return m, adapters.Inputf("invalid_utf8", "body is not valid UTF-8")
	}
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return m, adapters.Inputf("malformed_json", "%v", err)
	}
	o, err := v.Object()
	if err != nil {
		return m, adapters.Inputf("wrong_type", "body must be a JSON object")
	}
	var bad *adapters.InputError
	o.Visit(func(k []byte, v *fastjson.Value) {
		if bad != nil {
			return
		}
		key := string(k)
		switch key {
		case "type", "text", "payload":
			s, err := v.StringBytes()
			if err != nil {
				bad = adapters.Inputf("wrong_type", "%s must be a string", key)
				return
			}
			switch key {
			case "type":
				m.Type = string(s)
			case "text":
				m.Text = string(s)
			case "payload":
				m.Payload = string(s)
			}
		case "metadata":
			if v.Type() == fastjson.TypeNull {
				return
			}
			if v.Type() != fastjson.TypeObject {
				bad = adapters.Inputf("wrong_type", "metadata must be an object")
				return
			}
			m.Metadata = v.MarshalTo(nil)
		default:
			bad = adapters.Inputf("unknown_field", "unknown field %q", key)
		}
	})
	if bad != nil {
		return MessageBody{}, bad
	}
	switch m.Type {
	case "":
		m.Type = string(normalize.TypeText)
		if m.Payload != "" {
			m.Type = string(normalize.TypePostback)
		}
	case string(normalize.TypeText), string(normalize.TypeQuickReply), string(normalize.TypePostback):
	default:
		return MessageBody{}, adapters.Inputf("wrong_type", "type must be text, quick_reply or postback")
	}
	switch {
	case m.Text == "" && m.Payload == "":
		return MessageBody{}, adapters.Inputf("missing_field", "text or payload required")
	case m.Type != string(normalize.TypeText) && m.Payload == "":
		return MessageBody{}, adapters.Inputf("missing_field", "a %s needs a payload", m.Type)
	case len(m.Text) > MaxText:
		return MessageBody{}, adapters.Inputf("too_long", "text exceeds %d bytes", MaxText)
	case len(m.Payload) > MaxPayload:
		return MessageBody{}, adapters.Inputf("too_long", "payload exceeds %d bytes", MaxPayload)
	case len(m.Metadata) > MaxMetadata:
		return MessageBody{}, adapters.Inputf("too_long", "metadata exceeds %d bytes", MaxMetadata)
	}
	return m, nil
}

// Frame is the history item of a visitor's message.
func (m *MessageBody) Frame() Frame {
	return Frame{Type: FrameMessage, From: FromVisitor, Text: m.Text, Payload: m.Payload}
}

// EventID is the canonical id of the conversation item seq of channel
// user channelID on a connection: "web:{connection}:{channel_id}:{seq}".
// It is exact (the seq after the last colon is digits only), so two
// conversations never share an event id, and stable, so a replayed item
// deduplicates.
func EventID(connection, channelID string, seq uint64) string {
	return "web:" + connection + ":" + channelID + ":" + Seq(seq)
}

// Event builds the canonical event of m, sent by channel user channelID
// as the conversation item seq whose frame id is frameID (native_id).
// metadata is the session's widget metadata (setConfig); m's own
// metadata is merged over it key by key, so the backend sees both on
// every event.
func (a *Adapter) Event(m *MessageBody, channelID string, seq uint64, frameID string, metadata json.RawMessage, at time.Time) normalize.Event {
	md, err := MergeObjects(metadata, m.Metadata)
	if err != nil {
		md = m.Metadata
	}
	return normalize.Event{
		ID:           EventID(a.Connection, channelID, seq),
		Type:         normalize.EventType(m.Type),
		Channel:      Name,
		Connection:   a.Connection,
		BotID:        a.BotID,
		ChannelID:    channelID,
		ResponsePath: string(normalize.BuildResponsePath(a.BotID, channelID)),
		Sender:       normalize.Sender{ID: channelID},
		Text:         m.Text,
		Payload:      m.Payload,
		NativeID:     frameID,
		Timestamp:    at.UTC(),
		Metadata:     md,
	}
}

// MergeObjects returns the JSON object of base's members overridden by
// over's, key by key (nil when both are empty). Both must be objects or
// empty.
//
// It is not adapters.MergePatch, whose RFC 7386 rules suit channel_data
// amending a rendered body but not the widget's metadata contract
// (README: the message's metadata merged over the session's key by key):
// a member of over replaces base's whole, nested objects included, and a
// null member is a value the backend gets, not a deletion; an empty or {}
// side passes the other through as sent, with no re-encoding on the
// common path; and a base that is not an object is an error (the caller
// then keeps the message's metadata) rather than counting as {}.
func MergeObjects(base, over json.RawMessage) (json.RawMessage, error) {
	base, over = bytes.TrimSpace(base), bytes.TrimSpace(over)
	switch {
	case len(over) == 0 || string(over) == "{}" || string(over) == "null":
		if len(base) == 0 || string(base) == "null" {
			return nil, nil
		}
		return base, nil
	case len(base) == 0 || string(base) == "{}" || string(base) == "null":
		return over, nil
	}
	var b, o map[string]json.RawMessage
	if err := json.Unmarshal(base, &b); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(over, &o); err != nil {
		return nil, err
	}
	for k, v := range o {
		b[k] = v
	}
	return json.Marshal(b)
}

// FormatTS is a frame's timestamp: RFC 3339 UTC with milliseconds.
func FormatTS(t time.Time) string { return t.UTC().Format(normalize.TimestampLayout) }

// Seq formats a sequence number for ids and cursors.
func Seq(n uint64) string { return strconv.FormatUint(n, 10) }
