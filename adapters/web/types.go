package web

import "encoding/json"

// The widget's wire format. The browser is our own client, so these names
// are ours; they follow the canonical reply's names where they overlap.

// MessageBody is the body of POST /web/v1/{conn}/messages.
type MessageBody struct {
	// Type is text (the default), quick_reply or postback: what the
	// visitor did. A press carries the title in Text and its Payload.
	Type     string          `json:"type,omitempty"`
	Text     string          `json:"text,omitempty"`
	Payload  string          `json:"payload,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// Frame is one item of a conversation as the widget gets it, live on the
// stream and in history: a visitor's message, a bot reply, or (live only)
// a typing indicator.
type Frame struct {
	// Seq numbers the conversation's items from 1 without gaps; the
	// stream resumes after the last seq a client saw. Typing frames,
	// which are not stored, have none.
	Seq  uint64 `json:"seq,omitempty"`
	ID   string `json:"id,omitempty"`
	Type string `json:"type"` // message, typing
	From string `json:"from"` // visitor, bot
	// On is a typing frame's state.
	On           bool            `json:"on,omitempty"`
	Text         string          `json:"text,omitempty"`
	Payload      string          `json:"payload,omitempty"`
	QuickReplies []QuickReply    `json:"quick_replies,omitempty"`
	Buttons      []Button        `json:"buttons,omitempty"`
	Cards        []Card          `json:"cards,omitempty"`
	Attachments  []Attachment    `json:"attachments,omitempty"`
	ChannelData  json.RawMessage `json:"channel_data,omitempty"`
	// MergedFrom marks an item copied from an anonymous conversation
	// when its visitor identified (the anonymous visitor's id).
	MergedFrom string `json:"merged_from,omitempty"`
	TS         string `json:"ts,omitempty"`
}

// Frame types and senders.
const (
	FrameMessage = "message"
	FrameTyping  = "typing"
	FromVisitor  = "visitor"
	FromBot      = "bot"
)

// QuickReply is a chip above the composer; pressing it sends Payload.
type QuickReply struct {
	Title    string `json:"title"`
	Payload  string `json:"payload"`
	ImageURL string `json:"image_url,omitempty"`
}

// Button is a postback (sends Payload), a link (opens URL) or a phone
// link (URL is tel:…).
type Button struct {
	Type    string `json:"type"` // postback, url, phone
	Title   string `json:"title"`
	Payload string `json:"payload,omitempty"`
	URL     string `json:"url,omitempty"`
}

// Card is one element of a carousel.
type Card struct {
	Title      string   `json:"title,omitempty"`
	Subtitle   string   `json:"subtitle,omitempty"`
	ImageURL   string   `json:"image_url,omitempty"`
	DefaultURL string   `json:"default_url,omitempty"`
	Buttons    []Button `json:"buttons,omitempty"`
}

// Attachment is media shown by URL: image, video, audio or file.
type Attachment struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}
