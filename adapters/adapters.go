package adapters

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// Peeker reads one request header or query argument by name. fasthttp's
// RequestHeader and Args satisfy it; so does Header for offline use.
type Peeker interface {
	Peek(key string) []byte
}

// Inbound verifies and parses one channel's webhooks.
type Inbound interface {
	// Verify checks the request's authenticity over the raw body, in
	// constant time. It runs before Parse and never looks inside the body.
	Verify(h Peeker, body []byte) error
	// Parse appends the canonical events in body to dst, in the order the
	// provider sent them. It returns an *InputError for a body it cannot
	// read; an event kind it does not know becomes TypeUnknown, not an
	// error. Appended events own their memory and never alias body.
	Parse(dst []normalize.Event, body []byte) ([]normalize.Event, error)
}

// Handshaker answers a provider's GET verification of the webhook URL
// (Meta's hub.challenge).
type Handshaker interface {
	Handshake(query Peeker) (challenge []byte, err error)
}

// Recipient is where one reply goes, with what the gateway's policy
// attached to it.
type Recipient struct {
	BotID     string
	ChannelID string
	// OTNToken is the stored one-time-notification token to send with,
	// set by the gateway when the reply asks for otn and a token exists.
	OTNToken string
	// Response marks a reply to a recent inbound event (inside the
	// channel's window); adapters pick the messaging type from it.
	Response bool
}

// Sent is what a successful call returned.
type Sent struct {
	MessageID    string
	AttachmentID string
	// Degraded lists, in words, what rendering changed to fit the channel.
	Degraded []string
}

// Outbound renders canonical replies and calls the channel's API once per
// reply. Errors are *RenderError (nothing was called) or *APIError.
type Outbound interface {
	Send(ctx context.Context, to Recipient, r *normalize.Reply) (Sent, error)
}

// Windowed is a channel whose provider refuses free-form messages some
// time after the person's last own action (Messenger's and WhatsApp's 24
// hours). The gateway tracks that time per response path and asks the
// adapter before every send; the adapter knows its tags and exceptions.
type Windowed interface {
	// CheckWindow returns nil when r may be sent, given the time since the
	// person's last action (known is false when there never was one) and
	// whether a one-time-notification token will be used; else a
	// *RenderError saying why (code outside_window, tag_deprecated, …).
	CheckWindow(since time.Duration, known bool, r *normalize.Reply, otn bool) error
}

// Paced is a channel whose provider limits how fast one recipient may be
// sent to (Telegram: about 1 message a second per chat, 20 a minute per
// group). The gateway keeps that pace per recipient, making the
// conversation's lane wait instead of provoking the provider's 429.
type Paced interface {
	// Pace returns the minimum spacing of sends to to, and how many may go
	// at once before it applies; every <= 0 means unpaced.
	Pace(to Recipient) (every time.Duration, burst int)
}

// Handover runs one Messenger handover-protocol action (DESIGN §5):
// action is inbox, pass, take, request, release or owner; owner returns the
// app id that owns the thread.
type Handover interface {
	Handover(ctx context.Context, to Recipient, action, targetAppID, metadata string) (owner string, err error)
}

// Shared sentinel errors; adapters wrap them with their own prefix.
var (
	ErrMissingSignature = errors.New("missing signature")
	ErrBadSignature     = errors.New("bad signature")
	ErrHandshake        = errors.New("handshake refused")
)

// InputError is a webhook body the adapter cannot read. Code is a short
// machine-readable reason (malformed_json, wrong_type, missing_field,
// unknown_object).
type InputError struct {
	Code string
	Msg  string
}

func (e *InputError) Error() string { return e.Code + ": " + e.Msg }

// Inputf builds an *InputError.
func Inputf(code, format string, args ...any) *InputError {
	return &InputError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// RenderError is a reply that cannot be sent on this channel as given; it
// is found before any API call.
type RenderError struct {
	Code string // e.g. too_many_buttons, media_url_not_facebook
	Msg  string
}

func (e *RenderError) Error() string { return e.Code + ": " + e.Msg }

// Renderf builds a *RenderError.
func Renderf(code, format string, args ...any) *RenderError {
	return &RenderError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Class says how dispatch treats a failed channel call.
type Class uint8

const (
	// ClassTransient: network error, timeout, 5xx or a temporary code.
	// Retried with backoff; counts toward the breaker.
	ClassTransient Class = iota + 1
	// ClassRateLimited: wait RetryAfter, then retry; never trips the breaker.
	ClassRateLimited
	// ClassRecipient: permanent for this recipient (blocked, unavailable,
	// outside the window); fails the message, never trips the breaker.
	ClassRecipient
	// ClassRequest: the request itself is wrong; fails the message.
	ClassRequest
	// ClassConfig: bad token or missing permission. Logged loudly; counts
	// toward the breaker so a misconfigured bot stops calling.
	ClassConfig
)

func (c Class) String() string {
	switch c {
	case ClassTransient:
		return "transient"
	case ClassRateLimited:
		return "rate_limited"
	case ClassRecipient:
		return "recipient"
	case ClassRequest:
		return "request"
	case ClassConfig:
		return "config"
	}
	return "unknown"
}

// Retryable reports whether a later attempt of the same call may succeed.
func (c Class) Retryable() bool { return c == ClassTransient || c == ClassRateLimited }

// APIError is a classified failure of a channel API call.
type APIError struct {
	Class Class
	// Code is Switchboard's short reason (rate_limited, user_unavailable,
	// outside_window, bad_token, server_error, network, …).
	Code    string
	Message string
	// ChannelCode is the provider's own code, e.g. "10/2018278" for Meta.
	ChannelCode string
	HTTPStatus  int
	// RetryAfter is how long the provider asked us to wait, when it said.
	RetryAfter time.Duration
	// PerRecipient marks a rate limit that applies to this recipient only
	// (WhatsApp's pair rate); others slow the whole bot.
	PerRecipient bool
}

func (e *APIError) Error() string {
	s := e.Code + " (" + e.Class.String()
	if e.ChannelCode != "" {
		s += ", " + e.ChannelCode
	}
	return s + "): " + e.Message
}

// Header is a header set for offline use (the normalize command and
// tests); it satisfies Peeker. Names are matched case-insensitively, as
// HTTP does.
type Header map[string]string

// Set stores value under the canonical form of key.
func (h Header) Set(key, value string) { h[textproto.CanonicalMIMEHeaderKey(key)] = value }

// Peek returns the value of key, or nil.
func (h Header) Peek(key string) []byte {
	if v, ok := h[textproto.CanonicalMIMEHeaderKey(key)]; ok {
		return []byte(v)
	}
	return nil
}

// SendError turns err from Outbound.Send into the canonical error report.
func SendError(err error) *normalize.SendError {
	var ae *APIError
	var re *RenderError
	switch {
	case errors.As(err, &ae):
		return &normalize.SendError{Code: ae.Code, Message: ae.Message, Retryable: ae.Class.Retryable(), ChannelCode: ae.ChannelCode}
	case errors.As(err, &re):
		return &normalize.SendError{Code: re.Code, Message: re.Msg}
	}
	return &normalize.SendError{Code: "internal", Message: err.Error()}
}
