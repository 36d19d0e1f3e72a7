package normalize

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// DecodeAnswer reads the body of a backend's 2xx answer to an event
// (BackendAnswer) and returns its replies. encoding/json's reading is the
// contract; the common shape is read in one fastjson pass to the same
// Replies (FuzzDecodeAnswer holds the two to it): an object whose only
// member is messages, each reply made of text, quick_replies (type, title,
// payload, image_url), sender_action, messaging_type, tag and otn, every
// key once and spelled exactly, every string free of escapes and control
// characters and valid UTF-8, the body at most 16 KB. Anything else
// (buttons, cards, media, other keys, escapes, a type encoding/json
// refuses, a long answer) goes to encoding/json. The replies never share
// memory with b, which the caller may reuse at once.
func DecodeAnswer(b []byte) ([]Reply, error) {
	if msgs, ok := decodeAnswerFast(b); ok {
		return msgs, nil
	}
	var a BackendAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	return a.Messages, nil
}

var answerParsers fastjson.ParserPool

// maxFastAnswer bounds the answers read in one pass: a pooled parser
// keeps a copy of the largest body it read, so a rare 1 MiB answer would
// pin that much per pooled parser for good.
const maxFastAnswer = 16 << 10

// decodeAnswerFast reads the common shape, or reports false.
func decodeAnswerFast(b []byte) ([]Reply, bool) {
	// Escapes are where readers differ (invalid ones, lone surrogates):
	// a body with any is not the common shape.
	if len(b) > maxFastAnswer || bytes.IndexByte(b, '\\') >= 0 {
		return nil, false
	}
	p := answerParsers.Get()
	defer answerParsers.Put(p)
	root, err := p.ParseBytes(b)
	if err != nil {
		return nil, false
	}
	o, err := root.Object()
	if err != nil || o.Len() != 1 {
		return nil, false
	}
	list := o.Get("messages")
	if list == nil || list.Type() != fastjson.TypeArray {
		return nil, false
	}
	items, _ := list.Array()
	msgs := make([]Reply, len(items))
	for i, v := range items {
		if !fastReply(v, &msgs[i]) {
			return nil, false
		}
	}
	return msgs, true
}

// Members of a reply read fast, one bit each to catch a repeated key
// (encoding/json keeps the last, fastjson's Get the first: left to it).
const (
	fastText = 1 << iota
	fastQuickReplies
	fastSenderAction
	fastMessagingType
	fastTag
	fastOTN
)

func fastReply(v *fastjson.Value, r *Reply) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	ok := true
	seen := 0
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		bit := 0
		var str *string // a string member
		switch string(k) {
		case "text":
			bit, str = fastText, &r.Text
		case "sender_action":
			bit, str = fastSenderAction, &r.SenderAction
		case "messaging_type":
			bit, str = fastMessagingType, &r.MessagingType
		case "tag":
			bit, str = fastTag, &r.Tag
		case "quick_replies":
			bit = fastQuickReplies
			r.QuickReplies, ok = fastQuickReplyList(v)
		case "otn":
			bit = fastOTN
			switch v.Type() {
			case fastjson.TypeTrue:
				r.OTN = true
			case fastjson.TypeFalse:
			default:
				ok = false
			}
		default:
			ok = false
		}
		if str != nil {
			*str, ok = plainString(v)
		}
		if seen&bit != 0 {
			ok = false
		}
		seen |= bit
	})
	return ok
}

func fastQuickReplyList(v *fastjson.Value) ([]QuickReply, bool) {
	items, err := v.Array()
	if err != nil {
		return nil, false
	}
	qrs := make([]QuickReply, len(items))
	for i, item := range items {
		o, err := item.Object()
		if err != nil {
			return nil, false
		}
		q := &qrs[i]
		ok := true
		seen := 0
		o.Visit(func(k []byte, v *fastjson.Value) {
			if !ok {
				return
			}
			var bit int
			var dst *string
			switch string(k) {
			case "type":
				bit, dst = 1, &q.Type
			case "title":
				bit, dst = 2, &q.Title
			case "payload":
				bit, dst = 4, &q.Payload
			case "image_url":
				bit, dst = 8, &q.ImageURL
			default:
				ok = false
				return
			}
			*dst, ok = plainString(v)
			if seen&bit != 0 {
				ok = false
			}
			seen |= bit
		})
		if !ok {
			return nil, false
		}
	}
	return qrs, true
}

// plainString is a string value read byte for byte: no control
// characters (encoding/json refuses them raw) and valid UTF-8 (it would
// replace what is not).
func plainString(v *fastjson.Value) (string, bool) {
	if v.Type() != fastjson.TypeString {
		return "", false
	}
	b, _ := v.StringBytes()
	for _, c := range b {
		if c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}
