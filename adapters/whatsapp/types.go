package whatsapp

import "encoding/json"

// Cloud API wire types of POST /{phone-number-id}/messages
// (channels/meta.md §8), named after the objects of Meta's "Messages"
// reference and prefixed with Send. They are encoded with encoding/json:
// the json tags are the wire format. Inbound webhooks are read with
// fastjson in inbound.go and have no structs here.

// SendRequest is one message, or a mark-as-read when Status is "read".
type SendRequest struct {
	MessagingProduct string `json:"messaging_product"` // always "whatsapp"
	RecipientType    string `json:"recipient_type,omitempty"`
	// To is the wa_id (or phone number); Recipient a business-scoped user
	// id (BSUID, "US.13491208655302741918") for people known only by it.
	To          string           `json:"to,omitempty"`
	Recipient   string           `json:"recipient,omitempty"`
	Type        string           `json:"type,omitempty"`
	Text        *SendText        `json:"text,omitempty"`
	Image       *SendMedia       `json:"image,omitempty"`
	Video       *SendMedia       `json:"video,omitempty"`
	Audio       *SendMedia       `json:"audio,omitempty"`
	Document    *SendMedia       `json:"document,omitempty"`
	Sticker     *SendMedia       `json:"sticker,omitempty"`
	Interactive *SendInteractive `json:"interactive,omitempty"`
	// Template is passed through from channel_data, as the backend wrote it.
	Template json.RawMessage `json:"template,omitempty"`

	// Mark as read: status "read", the inbound message_id, and optionally
	// a typing indicator shown until the reply (at most 25 s).
	Status          string               `json:"status,omitempty"`
	MessageID       string               `json:"message_id,omitempty"`
	TypingIndicator *SendTypingIndicator `json:"typing_indicator,omitempty"`
}

// SendText is text: body ≤ 4096 characters; preview_url renders a preview
// of the first URL in it.
type SendText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// SendMedia is image, video, audio, document or sticker, and a media
// header: an uploaded media id or a public link, never both.
type SendMedia struct {
	ID       string `json:"id,omitempty"`
	Link     string `json:"link,omitempty"`
	Caption  string `json:"caption,omitempty"`  // image, video, document: ≤ 1024
	Filename string `json:"filename,omitempty"` // document
}

// SendInteractive is interactive: type button (reply buttons), list or
// cta_url.
type SendInteractive struct {
	Type   string      `json:"type"`
	Header *SendHeader `json:"header,omitempty"`
	Body   *SendBody   `json:"body,omitempty"`
	Footer *SendBody   `json:"footer,omitempty"`
	Action SendAction  `json:"action"`
}

// SendHeader is interactive.header: text (lists) or media (buttons,
// cta_url).
type SendHeader struct {
	Type     string     `json:"type"` // text, image, video, document
	Text     string     `json:"text,omitempty"`
	Image    *SendMedia `json:"image,omitempty"`
	Video    *SendMedia `json:"video,omitempty"`
	Document *SendMedia `json:"document,omitempty"`
}

// SendBody is interactive.body and interactive.footer.
type SendBody struct {
	Text string `json:"text"`
}

// SendAction is interactive.action: buttons (button), button and
// sections (list), or name and parameters (cta_url).
type SendAction struct {
	Buttons    []SendButton       `json:"buttons,omitempty"`
	Button     string             `json:"button,omitempty"`
	Sections   []SendSection      `json:"sections,omitempty"`
	Name       string             `json:"name,omitempty"`
	Parameters *SendCTAParameters `json:"parameters,omitempty"`
}

// SendButton is one reply button.
type SendButton struct {
	Type  string    `json:"type"` // reply
	Reply SendReply `json:"reply"`
}

// SendReply is a reply button's id (≤ 256, comes back as the payload) and
// title (≤ 20, unique).
type SendReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// SendSection is one section of a list; its title is required when there
// are several.
type SendSection struct {
	Title string    `json:"title,omitempty"`
	Rows  []SendRow `json:"rows"`
}

// SendRow is one list row: id ≤ 200, title ≤ 24, description ≤ 72.
type SendRow struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// SendCTAParameters is the call-to-action URL button of cta_url.
type SendCTAParameters struct {
	DisplayText string `json:"display_text"`
	URL         string `json:"url"`
}

// SendTypingIndicator is typing_indicator of a mark-as-read.
type SendTypingIndicator struct {
	Type string `json:"type"` // text
}

// SendResponse is the answer: a message id for a send (accepted, not yet
// delivered: delivery arrives as statuses), success for a mark-as-read.
type SendResponse struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Contacts         []struct {
		Input  string `json:"input"`
		WaID   string `json:"wa_id,omitempty"`
		UserID string `json:"user_id,omitempty"`
	} `json:"contacts,omitempty"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status,omitempty"`
	} `json:"messages,omitempty"`
	Success bool `json:"success,omitempty"`
}
