package viber

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/switchboard-gw/switchboard/normalize"
)

// Wire types of the Viber REST Bot API (channels/telegram-viber.md part 2),
// named and tagged as Viber's docs name them. Parse reads callbacks with
// fastjson and never decodes into Callback; the struct documents the format
// and lets tests decode fixtures. The send types are what Render fills; it
// writes them with the appendJSON methods below, which produce exactly what
// encoding/json would (outbound_test.go checks every golden case).

// Callback is the body of every callback Viber posts to the webhook. Which
// members are set depends on Event: webhook, subscribed, unsubscribed,
// conversation_started, message, delivered, seen, failed.
type Callback struct {
	Event     string `json:"event"`
	Timestamp int64  `json:"timestamp"` // epoch milliseconds
	// MessageToken is a 64-bit integer, usually above 2^53: never a
	// float64. Some SDK fixtures send it as a digit string.
	MessageToken json.Number  `json:"message_token"`
	ChatHostname string       `json:"chat_hostname,omitempty"` // webhook
	Sender       *UserProfile `json:"sender,omitempty"`        // message
	User         *UserProfile `json:"user,omitempty"`          // subscribed, conversation_started
	UserID       string       `json:"user_id,omitempty"`       // unsubscribed, delivered, seen, failed
	Message      *Message     `json:"message,omitempty"`       // message
	Silent       bool         `json:"silent,omitempty"`        // message
	Type         string       `json:"type,omitempty"`          // conversation_started: "open"
	Context      string       `json:"context,omitempty"`       // conversation_started deep-link context
	Subscribed   bool         `json:"subscribed,omitempty"`    // conversation_started
	Desc         string       `json:"desc,omitempty"`          // failed
	ChatID       json.Number  `json:"chat_id,omitempty"`       // chat extension
	ReplyType    string       `json:"reply_type,omitempty"`    // chat extension
}

// UserProfile is sender (message) or user (subscribed,
// conversation_started). ID is base64-like and contains + / =.
type UserProfile struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Avatar     string `json:"avatar,omitempty"`
	Country    string `json:"country,omitempty"`
	Language   string `json:"language,omitempty"`
	APIVersion int    `json:"api_version,omitempty"`
}

// Message is the message of a message callback. Type is text, picture,
// video, file, sticker, contact, url, location (or rich_media, forwarded).
type Message struct {
	Type         string      `json:"type"`
	Text         string      `json:"text,omitempty"`
	Media        string      `json:"media,omitempty"` // picture, video, file, sticker; the link of url
	Thumbnail    string      `json:"thumbnail,omitempty"`
	FileName     string      `json:"file_name,omitempty"`
	FileSize     int64       `json:"file_size,omitempty"`
	Duration     int         `json:"duration,omitempty"` // video, seconds
	StickerID    json.Number `json:"sticker_id,omitempty"`
	Contact      *Contact    `json:"contact,omitempty"`
	Location     *Location   `json:"location,omitempty"`
	TrackingData string      `json:"tracking_data,omitempty"`
}

// Contact is a shared contact card (name ≤ 28, phone_number ≤ 18).
type Contact struct {
	Name        string `json:"name"`
	PhoneNumber string `json:"phone_number"`
	Avatar      string `json:"avatar,omitempty"`
}

// Location is a shared place.
type Location struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// SendMessageRequest is the body of POST /send_message. Type selects which
// of the content members Viber reads; any message may carry a keyboard.
type SendMessageRequest struct {
	Receiver      string `json:"receiver"`
	MinAPIVersion int    `json:"min_api_version,omitempty"`
	Sender        Sender `json:"sender"`
	TrackingData  string `json:"tracking_data,omitempty"`
	Type          string `json:"type"`
	// Text is a pointer because a picture requires text even when empty,
	// while other types omit it.
	Text      *string    `json:"text,omitempty"`
	Media     string     `json:"media,omitempty"`
	Thumbnail string     `json:"thumbnail,omitempty"`
	Size      int64      `json:"size,omitempty"` // video, file: required, in bytes
	Duration  int        `json:"duration,omitempty"`
	FileName  string     `json:"file_name,omitempty"`
	Contact   *Contact   `json:"contact,omitempty"`
	Location  *Location  `json:"location,omitempty"`
	StickerID int64      `json:"sticker_id,omitempty"`
	RichMedia *RichMedia `json:"rich_media,omitempty"`
	Keyboard  *Keyboard  `json:"keyboard,omitempty"`
}

// Sender is the bot as the message shows it: name ≤ 28 characters.
type Sender struct {
	Name   string `json:"name"`
	Avatar string `json:"avatar,omitempty"`
}

// Keyboard is a custom keyboard shown under the composer until the next
// message replaces it.
type Keyboard struct {
	Type          string   `json:"Type"` // "keyboard"
	DefaultHeight bool     `json:"DefaultHeight,omitempty"`
	Buttons       []Button `json:"Buttons"`
}

// RichMedia is a carousel: Buttons fill groups of ButtonsGroupColumns ×
// ButtonsGroupRows cells in order, one group per page.
type RichMedia struct {
	Type                string   `json:"Type"` // "rich_media"
	ButtonsGroupColumns int      `json:"ButtonsGroupColumns"`
	ButtonsGroupRows    int      `json:"ButtonsGroupRows"`
	BgColor             string   `json:"BgColor,omitempty"`
	Buttons             []Button `json:"Buttons"`
}

// Button is a keyboard or rich-media cell. ActionType is reply (ActionBody
// comes back as the user's message), open-url (ActionBody is the URL),
// share-phone, location-picker or none.
type Button struct {
	Columns    int    `json:"Columns,omitempty"`
	Rows       int    `json:"Rows,omitempty"`
	ActionType string `json:"ActionType,omitempty"`
	ActionBody string `json:"ActionBody"`
	Text       string `json:"Text,omitempty"`
	TextSize   string `json:"TextSize,omitempty"`
	TextVAlign string `json:"TextVAlign,omitempty"`
	TextHAlign string `json:"TextHAlign,omitempty"`
	Image      string `json:"Image,omitempty"`
	Silent     bool   `json:"Silent,omitempty"`
}

// SendMessageResponse is Viber's answer to every call, HTTP 200 even on
// failure: Status 0 is success, anything else an error (see classify).
type SendMessageResponse struct {
	Status        int         `json:"status"`
	StatusMessage string      `json:"status_message"`
	MessageToken  json.Number `json:"message_token,omitempty"`
	ChatHostname  string      `json:"chat_hostname,omitempty"`
	BillingStatus int         `json:"billing_status,omitempty"`
}

// ---- append encoders: byte for byte what encoding/json writes ----

func (r *SendMessageRequest) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"receiver":`...)
	dst = normalize.AppendString(dst, r.Receiver)
	if r.MinAPIVersion != 0 {
		dst = append(dst, `,"min_api_version":`...)
		dst = strconv.AppendInt(dst, int64(r.MinAPIVersion), 10)
	}
	dst = append(dst, `,"sender":{"name":`...)
	dst = normalize.AppendString(dst, r.Sender.Name)
	dst = appendStr(dst, "avatar", r.Sender.Avatar)
	dst = append(dst, '}')
	dst = appendStr(dst, "tracking_data", r.TrackingData)
	dst = append(dst, `,"type":`...)
	dst = normalize.AppendString(dst, r.Type)
	if r.Text != nil {
		dst = append(dst, `,"text":`...)
		dst = normalize.AppendString(dst, *r.Text)
	}
	dst = appendStr(dst, "media", r.Media)
	dst = appendStr(dst, "thumbnail", r.Thumbnail)
	dst = appendInt(dst, "size", r.Size)
	dst = appendInt(dst, "duration", int64(r.Duration))
	dst = appendStr(dst, "file_name", r.FileName)
	if c := r.Contact; c != nil {
		dst = append(dst, `,"contact":{"name":`...)
		dst = normalize.AppendString(dst, c.Name)
		dst = append(dst, `,"phone_number":`...)
		dst = normalize.AppendString(dst, c.PhoneNumber)
		dst = appendStr(dst, "avatar", c.Avatar)
		dst = append(dst, '}')
	}
	if l := r.Location; l != nil {
		dst = append(dst, `,"location":{"lat":`...)
		dst = appendFloat(dst, l.Lat)
		dst = append(dst, `,"lon":`...)
		dst = appendFloat(dst, l.Lon)
		dst = append(dst, '}')
	}
	dst = appendInt(dst, "sticker_id", r.StickerID)
	if m := r.RichMedia; m != nil {
		dst = append(dst, `,"rich_media":{"Type":`...)
		dst = normalize.AppendString(dst, m.Type)
		dst = append(dst, `,"ButtonsGroupColumns":`...)
		dst = strconv.AppendInt(dst, int64(m.ButtonsGroupColumns), 10)
		dst = append(dst, `,"ButtonsGroupRows":`...)
		dst = strconv.AppendInt(dst, int64(m.ButtonsGroupRows), 10)
		dst = appendStr(dst, "BgColor", m.BgColor)
		dst = appendButtons(dst, m.Buttons)
		dst = append(dst, '}')
	}
	if k := r.Keyboard; k != nil {
		dst = append(dst, `,"keyboard":{"Type":`...)
		dst = normalize.AppendString(dst, k.Type)
		if k.DefaultHeight {
			dst = append(dst, `,"DefaultHeight":true`...)
		}
		dst = appendButtons(dst, k.Buttons)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// appendButtons writes `,"Buttons":[...]`; a nil list is null, as
// encoding/json writes it.
func appendButtons(dst []byte, bs []Button) []byte {
	if bs == nil {
		return append(dst, `,"Buttons":null`...)
	}
	dst = append(dst, `,"Buttons":[`...)
	for i := range bs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = bs[i].appendJSON(dst)
	}
	return append(dst, ']')
}

func (b *Button) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	n := len(dst)
	dst = appendInt(dst, "Columns", int64(b.Columns))
	dst = appendInt(dst, "Rows", int64(b.Rows))
	dst = appendStr(dst, "ActionType", b.ActionType)
	dst = append(dst, `,"ActionBody":`...)
	dst = normalize.AppendString(dst, b.ActionBody)
	dst = appendStr(dst, "Text", b.Text)
	dst = appendStr(dst, "TextSize", b.TextSize)
	dst = appendStr(dst, "TextVAlign", b.TextVAlign)
	dst = appendStr(dst, "TextHAlign", b.TextHAlign)
	dst = appendStr(dst, "Image", b.Image)
	if b.Silent {
		dst = append(dst, `,"Silent":true`...)
	}
	// Drop the comma before the first member.
	copy(dst[n:], dst[n+1:])
	dst = dst[:len(dst)-1]
	return append(dst, '}')
}

// appendStr appends `,"key":"value"` when value is not empty.
func appendStr(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return normalize.AppendString(dst, value)
}

// appendInt appends `,"key":n` when n is not zero.
func appendInt(dst []byte, key string, n int64) []byte {
	if n == 0 {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendInt(dst, n, 10)
}

// appendFloat appends f as encoding/json does (shortest form, exponent
// below 1e-6 and from 1e21); NaN and infinities, which encoding/json
// refuses, become 0 so the body stays JSON (Render never produces them).
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
