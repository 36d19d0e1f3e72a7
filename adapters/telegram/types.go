package telegram

import (
	"encoding/json"
	"fmt"
)

// Wire types of the Bot API (Bot API 10.1), named as its documentation
// names them. Parse reads webhooks with fastjson rather than through these
// structs (it must keep every id's exact digits and never allocate per
// field); they document the fields it reads, and the tests decode every
// fixture into Update to cross-check the parser. Outbound bodies are
// encoded from the Send*Params structs with encoding/json. Only the fields
// Switchboard reads or writes are declared: Telegram adds fields every few
// releases, and unknown ones are ignored.

// Update is one webhook delivery: update_id and at most one of the other
// fields.
type Update struct {
	UpdateID           int64                   `json:"update_id"`
	Message            *Message                `json:"message,omitempty"`
	EditedMessage      *Message                `json:"edited_message,omitempty"`
	ChannelPost        *Message                `json:"channel_post,omitempty"`
	EditedChannelPost  *Message                `json:"edited_channel_post,omitempty"`
	CallbackQuery      *CallbackQuery          `json:"callback_query,omitempty"`
	MyChatMember       *ChatMemberUpdated      `json:"my_chat_member,omitempty"`
	ChatMember         *ChatMemberUpdated      `json:"chat_member,omitempty"`
	ChatJoinRequest    *ChatJoinRequest        `json:"chat_join_request,omitempty"`
	MessageReaction    *MessageReactionUpdated `json:"message_reaction,omitempty"`
	InlineQuery        json.RawMessage         `json:"inline_query,omitempty"`
	ChosenInlineResult json.RawMessage         `json:"chosen_inline_result,omitempty"`
	Poll               json.RawMessage         `json:"poll,omitempty"`
	PollAnswer         json.RawMessage         `json:"poll_answer,omitempty"`
	ShippingQuery      json.RawMessage         `json:"shipping_query,omitempty"`
	PreCheckoutQuery   json.RawMessage         `json:"pre_checkout_query,omitempty"`
}

// User is a Telegram user or bot. Ids have up to 52 significant bits.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name,omitempty"`
	Username     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a conversation: private (id = the user's id), group (negative),
// supergroup or channel (-100…).
type Chat struct {
	ID       int64  `json:"id"`
	Type     string `json:"type"`
	Title    string `json:"title,omitempty"`
	Username string `json:"username,omitempty"`
	IsForum  bool   `json:"is_forum,omitempty"`
}

// Message is a message, channel post or service message. A message whose
// date is 0 is inaccessible (CallbackQuery.message of a deleted message).
type Message struct {
	MessageID         int64                 `json:"message_id"`
	MessageThreadID   int64                 `json:"message_thread_id,omitempty"`
	From              *User                 `json:"from,omitempty"`
	SenderChat        *Chat                 `json:"sender_chat,omitempty"`
	Date              int64                 `json:"date"`
	EditDate          int64                 `json:"edit_date,omitempty"`
	Chat              Chat                  `json:"chat"`
	IsTopicMessage    bool                  `json:"is_topic_message,omitempty"`
	ReplyToMessage    *Message              `json:"reply_to_message,omitempty"`
	MediaGroupID      string                `json:"media_group_id,omitempty"`
	Text              string                `json:"text,omitempty"`
	Caption           string                `json:"caption,omitempty"`
	Animation         *Animation            `json:"animation,omitempty"`
	Audio             *Audio                `json:"audio,omitempty"`
	Document          *Document             `json:"document,omitempty"`
	Photo             []PhotoSize           `json:"photo,omitempty"`
	Sticker           *Sticker              `json:"sticker,omitempty"`
	Video             *Video                `json:"video,omitempty"`
	VideoNote         *VideoNote            `json:"video_note,omitempty"`
	Voice             *Voice                `json:"voice,omitempty"`
	Contact           *Contact              `json:"contact,omitempty"`
	Location          *Location             `json:"location,omitempty"`
	Venue             *Venue                `json:"venue,omitempty"`
	NewChatMembers    []User                `json:"new_chat_members,omitempty"`
	LeftChatMember    *User                 `json:"left_chat_member,omitempty"`
	MigrateToChatID   int64                 `json:"migrate_to_chat_id,omitempty"`
	MigrateFromChatID int64                 `json:"migrate_from_chat_id,omitempty"`
	ReplyMarkup       *InlineKeyboardMarkup `json:"reply_markup,omitempty"`
}

// PhotoSize is one size of a photo; a photo message carries several.
type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Document is a general file.
type Document struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Audio is a music file.
type Audio struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Duration     int    `json:"duration"`
	Performer    string `json:"performer,omitempty"`
	Title        string `json:"title,omitempty"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Voice is a voice note.
type Voice struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Duration     int    `json:"duration"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Video is a video file.
type Video struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Duration     int    `json:"duration"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// VideoNote is a round video message.
type VideoNote struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Length       int    `json:"length"`
	Duration     int    `json:"duration"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Animation is a GIF or silent H.264 video; a message with one also
// carries it as Document, for old clients.
type Animation struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Duration     int    `json:"duration"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Sticker is a sticker; Emoji is the emoji it stands for.
type Sticker struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Type         string `json:"type"`
	Emoji        string `json:"emoji,omitempty"`
	SetName      string `json:"set_name,omitempty"`
	FileSize     int64  `json:"file_size,omitempty"`
}

// Contact is a shared phone contact; UserID is set when it is a Telegram
// user.
type Contact struct {
	PhoneNumber string `json:"phone_number"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name,omitempty"`
	UserID      int64  `json:"user_id,omitempty"`
	Vcard       string `json:"vcard,omitempty"`
}

// Location is a point on the map, possibly live.
type Location struct {
	Latitude           float64 `json:"latitude"`
	Longitude          float64 `json:"longitude"`
	HorizontalAccuracy float64 `json:"horizontal_accuracy,omitempty"`
	LivePeriod         int     `json:"live_period,omitempty"`
}

// Venue is a named place; a message with one also carries its Location.
type Venue struct {
	Location Location `json:"location"`
	Title    string   `json:"title"`
	Address  string   `json:"address"`
}

// CallbackQuery is a press of an inline keyboard button. Message is the
// message the button was on (absent for inline-mode messages, which carry
// InlineMessageID instead); Data is the button's callback_data.
type CallbackQuery struct {
	ID              string   `json:"id"`
	From            User     `json:"from"`
	Message         *Message `json:"message,omitempty"`
	InlineMessageID string   `json:"inline_message_id,omitempty"`
	ChatInstance    string   `json:"chat_instance"`
	Data            string   `json:"data,omitempty"`
	GameShortName   string   `json:"game_short_name,omitempty"`
}

// ChatMemberUpdated reports a change of a chat member's status (the bot's
// own in my_chat_member: "kicked" in a private chat means blocked).
type ChatMemberUpdated struct {
	Chat          Chat       `json:"chat"`
	From          User       `json:"from"`
	Date          int64      `json:"date"`
	OldChatMember ChatMember `json:"old_chat_member"`
	NewChatMember ChatMember `json:"new_chat_member"`
}

// ChatMember is one member's status: creator, administrator, member,
// restricted, left or kicked.
type ChatMember struct {
	Status string `json:"status"`
	User   User   `json:"user"`
}

// ChatJoinRequest is a request to join a chat the bot administers;
// UserChatID is the private chat with the requester, open for 24 hours.
type ChatJoinRequest struct {
	Chat       Chat   `json:"chat"`
	From       User   `json:"from"`
	UserChatID int64  `json:"user_chat_id"`
	Date       int64  `json:"date"`
	Bio        string `json:"bio,omitempty"`
}

// MessageReactionUpdated is a change of one user's reactions to a message.
type MessageReactionUpdated struct {
	Chat        Chat           `json:"chat"`
	MessageID   int64          `json:"message_id"`
	User        *User          `json:"user,omitempty"`
	ActorChat   *Chat          `json:"actor_chat,omitempty"`
	Date        int64          `json:"date"`
	OldReaction []ReactionType `json:"old_reaction"`
	NewReaction []ReactionType `json:"new_reaction"`
}

// ReactionType is an emoji, custom_emoji or paid reaction.
type ReactionType struct {
	Type          string `json:"type"`
	Emoji         string `json:"emoji,omitempty"`
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// Outbound.

// SendMessageParams is the body of sendMessage.
type SendMessageParams struct {
	ChatID      ChatID `json:"chat_id"`
	Text        string `json:"text"`
	ReplyMarkup any    `json:"reply_markup,omitempty"`
}

// SendPhotoParams is the body of sendPhoto; Photo is a file_id or an
// HTTP URL.
type SendPhotoParams struct {
	ChatID      ChatID `json:"chat_id"`
	Photo       string `json:"photo"`
	Caption     string `json:"caption,omitempty"`
	ReplyMarkup any    `json:"reply_markup,omitempty"`
}

// SendDocumentParams is the body of sendDocument.
type SendDocumentParams struct {
	ChatID      ChatID `json:"chat_id"`
	Document    string `json:"document"`
	Caption     string `json:"caption,omitempty"`
	ReplyMarkup any    `json:"reply_markup,omitempty"`
}

// SendVideoParams is the body of sendVideo.
type SendVideoParams struct {
	ChatID      ChatID `json:"chat_id"`
	Video       string `json:"video"`
	Caption     string `json:"caption,omitempty"`
	ReplyMarkup any    `json:"reply_markup,omitempty"`
}

// SendAudioParams is the body of sendAudio.
type SendAudioParams struct {
	ChatID      ChatID `json:"chat_id"`
	Audio       string `json:"audio"`
	Caption     string `json:"caption,omitempty"`
	ReplyMarkup any    `json:"reply_markup,omitempty"`
}

// SendLocationParams is the body of sendLocation. Latitude and Longitude
// keep the digits the backend wrote.
type SendLocationParams struct {
	ChatID      ChatID      `json:"chat_id"`
	Latitude    json.Number `json:"latitude"`
	Longitude   json.Number `json:"longitude"`
	ReplyMarkup any         `json:"reply_markup,omitempty"`
}

// SendChatActionParams is the body of sendChatAction.
type SendChatActionParams struct {
	ChatID ChatID `json:"chat_id"`
	Action string `json:"action"`
}

// AnswerCallbackQueryParams is the body of answerCallbackQuery: it stops
// the button's spinner and may show Text as a toast or an alert.
type AnswerCallbackQueryParams struct {
	CallbackQueryID string `json:"callback_query_id"`
	Text            string `json:"text,omitempty"`
	ShowAlert       bool   `json:"show_alert,omitempty"`
	URL             string `json:"url,omitempty"`
	CacheTime       int    `json:"cache_time,omitempty"`
}

// InlineKeyboardMarkup is a keyboard under a message; each button has
// exactly one action.
type InlineKeyboardMarkup struct {
	InlineKeyboard [][]InlineKeyboardButton `json:"inline_keyboard"`
}

// InlineKeyboardButton is a button with a URL or callback data (1–64
// bytes).
type InlineKeyboardButton struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
}

// ReplyKeyboardMarkup replaces the person's keyboard; a button sends its
// text as a message, or shares the person's phone number.
type ReplyKeyboardMarkup struct {
	Keyboard        [][]KeyboardButton `json:"keyboard"`
	ResizeKeyboard  bool               `json:"resize_keyboard,omitempty"`
	OneTimeKeyboard bool               `json:"one_time_keyboard,omitempty"`
}

// KeyboardButton is one reply-keyboard button.
type KeyboardButton struct {
	Text           string `json:"text"`
	RequestContact bool   `json:"request_contact,omitempty"`
}

// Response is every Bot API answer: {"ok":true,"result":…} or
// {"ok":false,"error_code":N,"description":"…","parameters":{…}}.
type Response struct {
	Ok          bool                `json:"ok"`
	Result      json.RawMessage     `json:"result,omitempty"`
	ErrorCode   int                 `json:"error_code,omitempty"`
	Description string              `json:"description,omitempty"`
	Parameters  *ResponseParameters `json:"parameters,omitempty"`
}

// ResponseParameters tells why a call failed and what to do: wait
// RetryAfter seconds, or resend to MigrateToChatID.
type ResponseParameters struct {
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	RetryAfter      int   `json:"retry_after,omitempty"`
}

// ChatID is a chat_id: a 64-bit integer written as its exact digits, or a
// channel's @username. It marshals to a JSON number or a string, keeping
// the digits it was given.
type ChatID string

// MarshalJSON writes the id as a number, or a string for @username.
func (c ChatID) MarshalJSON() ([]byte, error) {
	if isIntID(string(c)) {
		return []byte(c), nil
	}
	return json.Marshal(string(c))
}

// UnmarshalJSON reads an integer (its digits, exactly) or a string.
func (c *ChatID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = ChatID(s)
		return nil
	}
	if !isIntID(string(b)) {
		return fmt.Errorf("telegram: chat_id %s is not an integer", b)
	}
	*c = ChatID(b)
	return nil
}
