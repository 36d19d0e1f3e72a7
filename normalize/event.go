package normalize

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// EventType is the canonical kind of an event (DESIGN §3).
type EventType string

// The canonical event types. Adapters map every platform event onto one of
// these; what fits none becomes TypeUnknown, never an error.
const (
	TypeText                EventType = "text"
	TypePostback            EventType = "postback"
	TypeQuickReply          EventType = "quick_reply"
	TypeAttachment          EventType = "attachment"
	TypeLocation            EventType = "location"
	TypeContact             EventType = "contact"
	TypeReferral            EventType = "referral"
	TypeOptin               EventType = "optin"
	TypeAccountLink         EventType = "account_link"
	TypeRead                EventType = "read"
	TypeDelivery            EventType = "delivery"
	TypeReaction            EventType = "reaction"
	TypeHandover            EventType = "handover"
	TypeEcho                EventType = "echo"
	TypeStatus              EventType = "status"
	TypeEdited              EventType = "edited"
	TypeDeleted             EventType = "deleted"
	TypeMember              EventType = "member"
	TypeSubscribed          EventType = "subscribed"
	TypeUnsubscribed        EventType = "unsubscribed"
	TypeConversationStarted EventType = "conversation_started"
	TypeUnknown             EventType = "unknown"
)

// Event is the canonical event delivered to the backend, one JSON object per
// event. Empty fields are omitted from the JSON.
//
// Strings in an Event own their memory: adapters copy out of request buffers
// before filling it, so an Event may outlive the request it came from.
type Event struct {
	ID           string          `json:"id"`
	Type         EventType       `json:"type"`
	Channel      string          `json:"channel"`
	Connection   string          `json:"connection,omitempty"`
	BotID        string          `json:"bot_id,omitempty"`
	ChannelID    string          `json:"channel_id,omitempty"`
	ResponsePath string          `json:"response_path,omitempty"`
	Sender       Sender          `json:"sender,omitzero"`
	VisitorID    string          `json:"visitor_id,omitempty"`
	ProvidedID   string          `json:"provided_id,omitempty"`
	Text         string          `json:"text,omitempty"`
	Payload      string          `json:"payload,omitempty"`
	Command      string          `json:"command,omitempty"`
	Args         string          `json:"args,omitempty"`
	Attachments  []Attachment    `json:"attachments,omitempty"`
	Location     *Location       `json:"location,omitempty"`
	NativeID     string          `json:"native_id,omitempty"`
	ReplyTo      string          `json:"reply_to,omitempty"`
	Timestamp    time.Time       `json:"timestamp,omitzero"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	Attributes   json.RawMessage `json:"attributes,omitempty"`
}

// Sender is the person who acted; in group chats it differs from the
// conversation the reply goes to.
type Sender struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Username string `json:"username,omitempty"`
	Language string `json:"language,omitempty"`
}

// Attachment is one media item, sticker, shared link or mention.
// Type is one of image, video, audio, file, sticker, location, fallback,
// story_mention.
type Attachment struct {
	Type      string `json:"type"`
	URL       string `json:"url,omitempty"`
	MediaID   string `json:"media_id,omitempty"`
	MimeType  string `json:"mime_type,omitempty"`
	Name      string `json:"name,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Caption   string `json:"caption,omitempty"`
	StickerID string `json:"sticker_id,omitempty"`
}

// Location is a shared place.
type Location struct {
	Lat     float64 `json:"lat"`
	Long    float64 `json:"long"`
	Name    string  `json:"name,omitempty"`
	Address string  `json:"address,omitempty"`
}

// TimestampLayout is the canonical timestamp format: RFC 3339, UTC,
// milliseconds.
const TimestampLayout = "2006-01-02T15:04:05.000Z07:00"

// Reset clears e for reuse, keeping the Attachments capacity.
func (e *Event) Reset() {
	att := e.Attachments[:0]
	*e = Event{Attachments: att}
}

// AppendJSON appends the canonical JSON of e to dst. It is byte for byte
// json.Marshal(e) except for the timestamp (always UTC with exactly three
// fractional digits, where json.Marshal keeps the zone and trims zeros),
// Metadata and Attributes (appended as given, where json.Marshal compacts
// them), and a NaN or infinite coordinate (null, where json.Marshal fails).
// It allocates nothing beyond growing dst.
func (e *Event) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = AppendString(dst, e.ID)
	dst = append(dst, `,"type":`...)
	dst = AppendString(dst, string(e.Type))
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, e.Channel)
	dst = appendField(dst, "connection", e.Connection)
	dst = appendField(dst, "bot_id", e.BotID)
	dst = appendField(dst, "channel_id", e.ChannelID)
	dst = appendField(dst, "response_path", e.ResponsePath)
	if e.Sender != (Sender{}) {
		dst = append(dst, `,"sender":{`...)
		n := len(dst)
		dst = appendField(dst, "id", e.Sender.ID)
		dst = appendField(dst, "name", e.Sender.Name)
		dst = appendField(dst, "username", e.Sender.Username)
		dst = appendField(dst, "language", e.Sender.Language)
		dst = dropLeadingComma(dst, n)
		dst = append(dst, '}')
	}
	dst = appendField(dst, "visitor_id", e.VisitorID)
	dst = appendField(dst, "provided_id", e.ProvidedID)
	dst = appendField(dst, "text", e.Text)
	dst = appendField(dst, "payload", e.Payload)
	dst = appendField(dst, "command", e.Command)
	dst = appendField(dst, "args", e.Args)
	if len(e.Attachments) > 0 {
		dst = append(dst, `,"attachments":[`...)
		for i := range e.Attachments {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.Attachments[i].appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	if l := e.Location; l != nil {
		dst = append(dst, `,"location":{"lat":`...)
		dst = appendFloat(dst, l.Lat)
		dst = append(dst, `,"long":`...)
		dst = appendFloat(dst, l.Long)
		dst = appendField(dst, "name", l.Name)
		dst = appendField(dst, "address", l.Address)
		dst = append(dst, '}')
	}
	dst = appendField(dst, "native_id", e.NativeID)
	dst = appendField(dst, "reply_to", e.ReplyTo)
	if !e.Timestamp.IsZero() {
		dst = append(dst, `,"timestamp":"`...)
		dst = e.Timestamp.UTC().AppendFormat(dst, TimestampLayout)
		dst = append(dst, '"')
	}
	dst = appendRaw(dst, "metadata", e.Metadata)
	dst = appendRaw(dst, "attributes", e.Attributes)
	return append(dst, '}')
}

func (a *Attachment) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = AppendString(dst, a.Type)
	dst = appendField(dst, "url", a.URL)
	dst = appendField(dst, "media_id", a.MediaID)
	dst = appendField(dst, "mime_type", a.MimeType)
	dst = appendField(dst, "name", a.Name)
	if a.Size != 0 {
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendInt(dst, a.Size, 10)
	}
	dst = appendField(dst, "caption", a.Caption)
	dst = appendField(dst, "sticker_id", a.StickerID)
	return append(dst, '}')
}

// appendFloat appends f as encoding/json formats a float64: shortest
// representation, exponent form below 1e-6 and from 1e21. JSON has no NaN or
// infinity, for which json.Marshal fails; they become null (as in
// JavaScript's JSON.stringify) so that the event stays valid JSON.
func appendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendField appends `,"key":"value"` when value is not empty.
func appendField(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return AppendString(dst, value)
}

// appendRaw appends `,"key":raw` when raw is not empty. raw must be valid
// JSON; adapters build it with AppendString or take it from a validated
// request.
func appendRaw(dst []byte, key string, raw []byte) []byte {
	if len(raw) == 0 {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return append(dst, raw...)
}

// dropLeadingComma removes the comma appendField put at dst[n] when it was
// the first member of an object.
func dropLeadingComma(dst []byte, n int) []byte {
	if len(dst) > n && dst[n] == ',' {
		copy(dst[n:], dst[n+1:])
		dst = dst[:len(dst)-1]
	}
	return dst
}
