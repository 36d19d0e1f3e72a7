package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Transport is where rendered frames go: the gateway stores a message
// frame in the conversation's history under its next seq and fans it out
// to the conversation's live streams; a typing frame is only fanned out.
// It returns the stored frame's id.
type Transport interface {
	Deliver(ctx context.Context, connection, channelID string, f *Frame) (messageID string, err error)
}

// ErrNoTransport is a web connection whose gateway side is not wired.
var ErrNoTransport = errors.New("web: no transport")

// Send renders r and hands the frame to the Transport. A store failure
// there is transient: dispatch retries it behind the breaker.
func (a *Adapter) Send(ctx context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	if to.BotID != a.BotID {
		return adapters.Sent{}, adapters.Renderf("unknown_bot", "bot %s is not served by web connection %s", to.BotID, a.Connection)
	}
	f, degraded, err := Render(r)
	if err != nil {
		return adapters.Sent{}, err
	}
	if f == nil { // mark_seen: nothing to show
		return adapters.Sent{Degraded: degraded}, nil
	}
	if a.Transport == nil {
		return adapters.Sent{}, &adapters.APIError{Class: adapters.ClassConfig, Code: "no_transport", Message: ErrNoTransport.Error()}
	}
	id, err := a.Transport.Deliver(ctx, a.Connection, to.ChannelID, f)
	if err != nil {
		var ae *adapters.APIError
		if errors.As(err, &ae) {
			return adapters.Sent{}, err
		}
		return adapters.Sent{}, &adapters.APIError{Class: adapters.ClassTransient, Code: "store", Message: err.Error()}
	}
	return adapters.Sent{MessageID: id, Degraded: degraded}, nil
}

// expandedReplies holds the scratch copies Render expands replies into.
// The frame Render returns keeps nothing of the copy but strings and the
// caller's ChannelData, so the copy goes back to the pool on return.
var expandedReplies = sync.Pool{New: func() any { return new(adapters.ExpandedReply) }}

// Render turns a canonical reply into the widget's frame (without seq,
// id or time, which the Transport sets) and lists what it changed. The web
// has no platform limits: everything renders but what needs a platform
// (attachment ids, one-time notifications, email/phone quick replies). A
// reply that is only a sender action renders a typing frame (typing_on,
// typing_off) or nothing (mark_seen: nil frame).
func Render(r *normalize.Reply) (*Frame, []string, error) {
	x := expandedReplies.Get().(*adapters.ExpandedReply)
	defer func() {
		x.Reset()
		expandedReplies.Put(x)
	}()
	r = x.Expand(r)
	var degraded []string
	f := &Frame{Type: FrameMessage, From: FromBot, Text: r.Text}
	for _, q := range r.QuickReplies {
		switch q.Type {
		case normalize.QuickReplyUserEmail, normalize.QuickReplyUserPhone:
			degraded = append(degraded, "quick reply "+q.Type+" has no web equivalent: dropped")
			continue
		}
		f.QuickReplies = append(f.QuickReplies, QuickReply{Title: q.Title, Payload: q.Payload, ImageURL: q.ImageURL})
	}
	f.Buttons, degraded = buttons(r.Buttons, degraded)
	for _, c := range r.Cards {
		card := Card{Title: c.Title, Subtitle: c.Subtitle, ImageURL: c.ImageURL, DefaultURL: c.DefaultURL}
		card.Buttons, degraded = buttons(c.Buttons, degraded)
		f.Cards = append(f.Cards, card)
	}
	if at := r.Attachment; at != nil {
		if at.URL == "" {
			return nil, degraded, adapters.Renderf("attachment_id_unsupported", "the web channel shows attachments by url; it has no saved attachment ids")
		}
		if !validMedia(at.Type) {
			return nil, degraded, adapters.Renderf("bad_attachment_type", "attachment type must be image, video, audio or file")
		}
		f.Attachments = append(f.Attachments, Attachment{Type: at.Type, URL: at.URL})
	}
	if m := r.Media; m != nil {
		if m.URL == "" {
			return nil, degraded, adapters.Renderf("attachment_id_unsupported", "the web channel shows media by url; it has no saved attachment ids")
		}
		typ := m.Type
		if !validMedia(typ) {
			typ = "image"
		}
		f.Attachments = append(f.Attachments, Attachment{Type: typ, URL: m.URL})
		var bs []Button
		bs, degraded = buttons(m.Buttons, degraded)
		f.Buttons = append(f.Buttons, bs...)
		degraded = append(degraded, "media template shown as an attachment")
	}
	if len(r.ChannelData) > 0 {
		if cd := bytes.TrimSpace(r.ChannelData); len(cd) == 0 || cd[0] != '{' || !json.Valid(cd) {
			return nil, degraded, adapters.Renderf("bad_channel_data", "channel_data must be a JSON object")
		}
		f.ChannelData = r.ChannelData
	}
	if r.OTN || r.OTNRequest != nil {
		degraded = append(degraded, "one-time notifications are a Messenger feature: ignored")
	}
	hasContent := f.Text != "" || len(f.QuickReplies) > 0 || len(f.Buttons) > 0 || len(f.Cards) > 0 ||
		len(f.Attachments) > 0 || len(f.ChannelData) > 0
	switch r.SenderAction {
	case "":
	case normalize.SenderActionTypingOn, normalize.SenderActionTypingOff:
		if !hasContent {
			return &Frame{Type: FrameTyping, From: FromBot, On: r.SenderAction == normalize.SenderActionTypingOn}, degraded, nil
		}
		degraded = append(degraded, "sender_action with content: the action was dropped")
	case normalize.SenderActionMarkSeen:
		if !hasContent {
			return nil, degraded, nil
		}
		degraded = append(degraded, "sender_action with content: the action was dropped")
	default:
		return nil, degraded, adapters.Renderf("bad_sender_action", "sender_action must be typing_on, typing_off or mark_seen")
	}
	if !hasContent {
		return nil, degraded, adapters.Renderf("empty_reply", "the reply has nothing the web widget can show")
	}
	return f, degraded, nil
}

func validMedia(t string) bool {
	switch t {
	case "image", "video", "audio", "file":
		return true
	}
	return false
}

func buttons(in []normalize.Button, degraded []string) ([]Button, []string) {
	var out []Button
	for _, b := range in {
		switch b.Type {
		case normalize.ButtonPostback:
			out = append(out, Button{Type: "postback", Title: b.Title, Payload: b.Payload})
		case normalize.ButtonURL:
			out = append(out, Button{Type: "url", Title: b.Title, URL: b.URL})
		case normalize.ButtonPhone:
			out = append(out, Button{Type: "phone", Title: b.Title, URL: "tel:" + strings.TrimPrefix(b.Phone, "tel:")})
		case normalize.ButtonAccountLink:
			title := b.Title
			if title == "" {
				title = "Log in"
			}
			out = append(out, Button{Type: "url", Title: title, URL: b.URL})
			degraded = append(degraded, "account_link shown as a link button")
		default:
			degraded = append(degraded, "button "+b.Type+" has no web equivalent: dropped")
		}
	}
	return out, degraded
}
