package meta

import (
	"encoding/json"

	"github.com/switchboard-gw/switchboard/normalize"
)

// Send API and handover wire types (channels/meta.md §7), shared by
// Messenger and Instagram, named after the objects of Meta's Send API
// reference and prefixed with Send so that they never meet the webhook
// side. The json tags document the wire format and let tests decode
// bodies; the hot path writes them with the appendJSON methods below,
// which produce exactly what encoding/json would (the adapters' outbound
// tests check this on every golden case).

// SendRequest is the body of POST /me/messages: recipient plus either
// message or sender_action.
type SendRequest struct {
	Recipient     SendRecipient `json:"recipient"`
	MessagingType string        `json:"messaging_type,omitempty"` // RESPONSE, UPDATE, MESSAGE_TAG
	Tag           string        `json:"tag,omitempty"`            // with MESSAGE_TAG
	Message       *SendMessage  `json:"message,omitempty"`
	SenderAction  string        `json:"sender_action,omitempty"` // typing_on, typing_off, mark_seen
}

// SendRecipient is recipient: a PSID or IGSID, or a one-time-notification
// token.
type SendRecipient struct {
	ID                string `json:"id,omitempty"`
	OneTimeNotifToken string `json:"one_time_notif_token,omitempty"`
}

// SendMessage is message: text or an attachment, with quick replies.
type SendMessage struct {
	Text         string           `json:"text,omitempty"`
	Attachment   *SendAttachment  `json:"attachment,omitempty"`
	QuickReplies []SendQuickReply `json:"quick_replies,omitempty"`
}

// SendQuickReply is one of message.quick_replies; content_type is text,
// user_email or user_phone_number (the last two carry nothing else).
type SendQuickReply struct {
	ContentType string `json:"content_type"`
	Title       string `json:"title,omitempty"`
	Payload     string `json:"payload,omitempty"`
	ImageURL    string `json:"image_url,omitempty"`
}

// SendAttachment is message.attachment: type image, video, audio, file or
// template, or Instagram's like_heart, which has no payload.
type SendAttachment struct {
	Type    string      `json:"type"`
	Payload SendPayload `json:"payload,omitzero"`
}

// SendPayload is attachment.payload, the union of a file payload
// (url + is_reusable, or attachment_id) and the template payloads
// (template_type button, generic, media or one_time_notif_req).
type SendPayload struct {
	TemplateType string        `json:"template_type,omitempty"`
	Text         string        `json:"text,omitempty"`    // button
	Title        string        `json:"title,omitempty"`   // one_time_notif_req
	Payload      string        `json:"payload,omitempty"` // one_time_notif_req
	URL          string        `json:"url,omitempty"`
	IsReusable   bool          `json:"is_reusable,omitempty"`
	AttachmentID string        `json:"attachment_id,omitempty"`
	Buttons      []SendButton  `json:"buttons,omitempty"`  // button
	Elements     []SendElement `json:"elements,omitempty"` // generic, media
}

// IsZero reports an empty payload (like_heart's), which is left out.
func (p *SendPayload) IsZero() bool {
	return p.TemplateType == "" && p.Text == "" && p.Title == "" && p.Payload == "" && p.URL == "" &&
		!p.IsReusable && p.AttachmentID == "" && len(p.Buttons) == 0 && len(p.Elements) == 0
}

// SendButton is a button of a template: type web_url (title, url),
// postback and phone_number (title, payload), account_link (url) or
// account_unlink.
type SendButton struct {
	Type    string `json:"type"`
	Title   string `json:"title,omitempty"`
	URL     string `json:"url,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// SendElement is one element of a generic template (title…buttons) or of
// a media template (media_type, url or attachment_id, buttons).
type SendElement struct {
	MediaType     string             `json:"media_type,omitempty"`
	URL           string             `json:"url,omitempty"`
	AttachmentID  string             `json:"attachment_id,omitempty"`
	Title         string             `json:"title,omitempty"`
	Subtitle      string             `json:"subtitle,omitempty"`
	ImageURL      string             `json:"image_url,omitempty"`
	DefaultAction *SendDefaultAction `json:"default_action,omitempty"`
	Buttons       []SendButton       `json:"buttons,omitempty"`
}

// SendDefaultAction is element.default_action: a URL button without title.
type SendDefaultAction struct {
	Type string `json:"type"` // web_url
	URL  string `json:"url"`
}

// SendResponse is the Send API's answer; attachment_id comes with
// is_reusable, and a sender action answers recipient_id only.
type SendResponse struct {
	RecipientID  string `json:"recipient_id"`
	MessageID    string `json:"message_id,omitempty"`
	AttachmentID string `json:"attachment_id,omitempty"`
}

// ThreadControlRequest is the body of POST /me/pass_thread_control,
// take_thread_control, request_thread_control and release_thread_control.
// target_app_id is a JSON number (pass only).
type ThreadControlRequest struct {
	Recipient   SendRecipient `json:"recipient"`
	TargetAppID json.Number   `json:"target_app_id,omitempty"`
	Metadata    string        `json:"metadata,omitempty"`
}

// ThreadOwnerResponse is the answer of GET /me/thread_owner; app_id is read
// exactly, as a string or a number.
type ThreadOwnerResponse struct {
	Data []struct {
		ThreadOwner struct {
			AppID json.Number `json:"app_id"`
		} `json:"thread_owner"`
	} `json:"data"`
}

// objectWriter appends the members of one JSON object, placing commas.
type objectWriter struct {
	dst []byte
	n   int
}

func (w *objectWriter) key(k string) {
	if w.n > 0 {
		w.dst = append(w.dst, ',')
	}
	w.n++
	w.dst = append(w.dst, '"')
	w.dst = append(w.dst, k...)
	w.dst = append(w.dst, '"', ':')
}

// str writes "k":"v", or nothing when v is empty and omit is set.
func (w *objectWriter) str(k, v string, omit bool) {
	if v == "" && omit {
		return
	}
	w.key(k)
	w.dst = normalize.AppendString(w.dst, v)
}

func (w *objectWriter) close() []byte { return append(w.dst, '}') }

func (r *SendRequest) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.key("recipient")
	w.dst = r.Recipient.appendJSON(w.dst)
	w.str("messaging_type", r.MessagingType, true)
	w.str("tag", r.Tag, true)
	if r.Message != nil {
		w.key("message")
		w.dst = r.Message.appendJSON(w.dst)
	}
	w.str("sender_action", r.SenderAction, true)
	return w.close()
}

func (r *SendRecipient) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.str("id", r.ID, true)
	w.str("one_time_notif_token", r.OneTimeNotifToken, true)
	return w.close()
}

func (m *SendMessage) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.str("text", m.Text, true)
	if m.Attachment != nil {
		w.key("attachment")
		w.dst = m.Attachment.appendJSON(w.dst)
	}
	if len(m.QuickReplies) > 0 {
		w.key("quick_replies")
		w.dst = append(w.dst, '[')
		for i := range m.QuickReplies {
			if i > 0 {
				w.dst = append(w.dst, ',')
			}
			w.dst = m.QuickReplies[i].appendJSON(w.dst)
		}
		w.dst = append(w.dst, ']')
	}
	return w.close()
}

func (q *SendQuickReply) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.str("content_type", q.ContentType, false)
	w.str("title", q.Title, true)
	w.str("payload", q.Payload, true)
	w.str("image_url", q.ImageURL, true)
	return w.close()
}

func (a *SendAttachment) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.str("type", a.Type, false)
	if !a.Payload.IsZero() {
		w.key("payload")
		w.dst = a.Payload.appendJSON(w.dst)
	}
	return w.close()
}

func (p *SendPayload) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.str("template_type", p.TemplateType, true)
	w.str("text", p.Text, true)
	w.str("title", p.Title, true)
	w.str("payload", p.Payload, true)
	w.str("url", p.URL, true)
	if p.IsReusable {
		w.key("is_reusable")
		w.dst = append(w.dst, "true"...)
	}
	w.str("attachment_id", p.AttachmentID, true)
	if len(p.Buttons) > 0 {
		w.key("buttons")
		w.dst = appendButtons(w.dst, p.Buttons)
	}
	if len(p.Elements) > 0 {
		w.key("elements")
		w.dst = append(w.dst, '[')
		for i := range p.Elements {
			if i > 0 {
				w.dst = append(w.dst, ',')
			}
			w.dst = p.Elements[i].appendJSON(w.dst)
		}
		w.dst = append(w.dst, ']')
	}
	return w.close()
}

func appendButtons(dst []byte, bs []SendButton) []byte {
	dst = append(dst, '[')
	for i := range bs {
		if i > 0 {
			dst = append(dst, ',')
		}
		w := objectWriter{dst: append(dst, '{')}
		w.str("type", bs[i].Type, false)
		w.str("title", bs[i].Title, true)
		w.str("url", bs[i].URL, true)
		w.str("payload", bs[i].Payload, true)
		dst = w.close()
	}
	return append(dst, ']')
}

func (e *SendElement) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.str("media_type", e.MediaType, true)
	w.str("url", e.URL, true)
	w.str("attachment_id", e.AttachmentID, true)
	w.str("title", e.Title, true)
	w.str("subtitle", e.Subtitle, true)
	w.str("image_url", e.ImageURL, true)
	if e.DefaultAction != nil {
		w.key("default_action")
		d := objectWriter{dst: append(w.dst, '{')}
		d.str("type", e.DefaultAction.Type, false)
		d.str("url", e.DefaultAction.URL, false)
		w.dst = d.close()
	}
	if len(e.Buttons) > 0 {
		w.key("buttons")
		w.dst = appendButtons(w.dst, e.Buttons)
	}
	return w.close()
}

func (t *ThreadControlRequest) appendJSON(dst []byte) []byte {
	w := objectWriter{dst: append(dst, '{')}
	w.key("recipient")
	w.dst = t.Recipient.appendJSON(w.dst)
	if t.TargetAppID != "" { // digits only, checked by the caller
		w.key("target_app_id")
		w.dst = append(w.dst, t.TargetAppID...)
	}
	w.str("metadata", t.Metadata, true)
	return w.close()
}
