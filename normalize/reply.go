package normalize

import (
	"encoding/json"
	"strings"
)

// Reply is one canonical outbound message (DESIGN §5). A reply combines the
// parts its channel allows; each adapter renders what it can, degrades the
// rest predictably and reports what it changed.
type Reply struct {
	Text          string          `json:"text,omitempty"`
	QuickReplies  []QuickReply    `json:"quick_replies,omitempty"`
	Buttons       []Button        `json:"buttons,omitempty"`
	Cards         []Card          `json:"cards,omitempty"`
	Attachment    *OutAttachment  `json:"attachment,omitempty"`
	Media         *Media          `json:"media,omitempty"`
	SenderAction  string          `json:"sender_action,omitempty"`
	MessagingType string          `json:"messaging_type,omitempty"`
	Tag           string          `json:"tag,omitempty"`
	OTN           bool            `json:"otn,omitempty"`
	OTNRequest    *OTNRequest     `json:"otn_request,omitempty"`
	ChannelData   json.RawMessage `json:"channel_data,omitempty"`
}

// Quick-reply types. A quick reply without a type is a text one.
const (
	QuickReplyText        = "text"
	QuickReplyUserEmail   = "user_email"
	QuickReplyUserPhone   = "user_phone_number"
	ButtonPostback        = "postback"
	ButtonURL             = "url"
	ButtonPhone           = "phone"
	ButtonAccountLink     = "account_link"
	ButtonAccountUnlink   = "account_unlink"
	SenderActionTypingOn  = "typing_on"
	SenderActionTypingOff = "typing_off"
	SenderActionMarkSeen  = "mark_seen"
)

// QuickReply is a suggested answer shown above the composer.
type QuickReply struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Payload  string `json:"payload,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
}

// Button is a persistent button on a message or card. Exactly one of
// Payload, URL or Phone carries its action, as named by Type.
type Button struct {
	Type    string `json:"type,omitempty"`
	Title   string `json:"title,omitempty"`
	Payload string `json:"payload,omitempty"`
	URL     string `json:"url,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// Card is one element of a carousel (Messenger's generic template).
type Card struct {
	Title      string   `json:"title,omitempty"`
	Subtitle   string   `json:"subtitle,omitempty"`
	ImageURL   string   `json:"image_url,omitempty"`
	DefaultURL string   `json:"default_url,omitempty"`
	Buttons    []Button `json:"buttons,omitempty"`
}

// OutAttachment is a file sent by URL or by a previously saved attachment id.
// Type is image, video, audio or file.
type OutAttachment struct {
	Type         string `json:"type"`
	URL          string `json:"url,omitempty"`
	AttachmentID string `json:"attachment_id,omitempty"`
	Reusable     bool   `json:"reusable,omitempty"`
}

// Media is Messenger's media template: an image or video given by a
// facebook.com URL or an attachment id, with at most one button.
type Media struct {
	Type         string   `json:"type"`
	URL          string   `json:"url,omitempty"`
	AttachmentID string   `json:"attachment_id,omitempty"`
	Buttons      []Button `json:"buttons,omitempty"`
}

// OTNRequest asks the person for a one-time notification permission.
type OTNRequest struct {
	Title   string `json:"title"`
	Payload string `json:"payload,omitempty"`
}

// Expand resolves the Messenger Actions shorthand (DESIGN §5) in place, so
// that every adapter sees explicit types:
//   - a quick reply titled user_email or user_phone_number becomes that type;
//   - a title "Label [https://icon.png]" becomes Title "Label" and ImageURL;
//   - a button whose value is a URL becomes a URL button, "phone_number:+1…"
//     a phone button, "account_link:https://…" a login button, and the title
//     account_unlink a logout button; anything else is a postback;
//   - a text quick reply or a postback without a payload takes its title.
//
// Explicit types are kept. Expand is idempotent.
func (r *Reply) Expand() {
	for i := range r.QuickReplies {
		r.QuickReplies[i].expand()
	}
	expandButtons(r.Buttons)
	for i := range r.Cards {
		expandButtons(r.Cards[i].Buttons)
	}
	if r.Media != nil {
		expandButtons(r.Media.Buttons)
	}
}

func (q *QuickReply) expand() {
	if q.Type != "" && q.Type != QuickReplyText {
		return
	}
	switch strings.TrimSpace(q.Title) {
	case QuickReplyUserEmail, QuickReplyUserPhone:
		q.Type, q.Title, q.Payload = strings.TrimSpace(q.Title), "", ""
		return
	}
	q.Type = QuickReplyText
	if q.ImageURL == "" && strings.HasSuffix(q.Title, "]") {
		if i := strings.LastIndex(q.Title, " ["); i >= 0 {
			if u := q.Title[i+2 : len(q.Title)-1]; isHTTPURL(u) {
				q.Title, q.ImageURL = strings.TrimSpace(q.Title[:i]), u
			}
		}
	}
	if q.Payload == "" {
		q.Payload = q.Title
	}
}

func expandButtons(bs []Button) {
	for i := range bs {
		bs[i].expand()
	}
}

func (b *Button) expand() {
	switch b.Type {
	case "":
	case ButtonAccountLink:
		if b.URL == "" {
			b.URL = strings.TrimPrefix(b.Payload, "account_link:")
			b.Payload = ""
		}
		return
	case ButtonPostback:
		// As for an untyped button: channels refuse an empty payload.
		if b.Payload == "" {
			b.Payload = b.Title
		}
		return
	default:
		return
	}
	v := b.Payload
	switch {
	case b.URL != "":
		b.Type = ButtonURL
	case b.Phone != "":
		b.Type = ButtonPhone
	case strings.HasPrefix(v, "phone_number:"):
		b.Type, b.Phone, b.Payload = ButtonPhone, strings.TrimSpace(v[len("phone_number:"):]), ""
	case strings.HasPrefix(v, "account_link:"):
		b.Type, b.URL, b.Payload = ButtonAccountLink, strings.TrimSpace(v[len("account_link:"):]), ""
	case isHTTPURL(v):
		b.Type, b.URL, b.Payload = ButtonURL, v, ""
	case b.Title == ButtonAccountUnlink || v == ButtonAccountUnlink:
		b.Type, b.Payload = ButtonAccountUnlink, ""
	default:
		b.Type = ButtonPostback
		if b.Payload == "" {
			b.Payload = b.Title
		}
	}
}

func isHTTPURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// MessagesRequest is the body of POST /v1/messages.
type MessagesRequest struct {
	ResponsePath string  `json:"response_path,omitempty"`
	ProvidedID   string  `json:"provided_id,omitempty"`
	Messages     []Reply `json:"messages"`
}

// BackendAnswer is the optional body of a backend's 2xx answer to an event.
type BackendAnswer struct {
	Messages []Reply `json:"messages"`
}

// SendResult reports what happened to one reply.
type SendResult struct {
	MessageID    string     `json:"message_id,omitempty"`
	AttachmentID string     `json:"attachment_id,omitempty"`
	Degraded     []string   `json:"degraded,omitempty"`
	Error        *SendError `json:"error,omitempty"`
}

// SendError is the error half of a SendResult.
type SendError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	Retryable   bool   `json:"retryable"`
	ChannelCode string `json:"channel_code,omitempty"`
}
