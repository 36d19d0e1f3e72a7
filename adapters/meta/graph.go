package meta

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/switchboard-gw/switchboard/adapters"
)

// Backoffs used when Meta throttles without saying for how long. Dispatch
// adds jitter on top.
const (
	// DefaultRetryAfter answers per-second limits: 613 (Send API calls
	// per Page), 130429 (WhatsApp throughput) and a bare HTTP 429.
	DefaultRetryAfter = time.Second
	// UsageRetryAfter answers the rolling-hour limits 4, 17, 32 and the
	// Business Use Case codes 800xx when X-Business-Use-Case-Usage gives no
	// estimated_time_to_regain_access.
	UsageRetryAfter = time.Minute
	// PairRetryAfter is the least wait after 131056 (WhatsApp pair rate:
	// about one message per 6 s to one person).
	PairRetryAfter = 6 * time.Second
	// MaxRetryAfter caps whatever a header asks for.
	MaxRetryAfter = 24 * time.Hour
)

// GraphError is the object inside the Graph API error envelope
// {"error":{...}} (channels/meta.md §10). Branch on Code and ErrorSubcode,
// never on the text; keep FBTraceID for Meta support.
type GraphError struct {
	Message        string `json:"message"`
	Type           string `json:"type"`
	Code           int    `json:"code"`
	ErrorSubcode   int    `json:"error_subcode,omitempty"`
	FBTraceID      string `json:"fbtrace_id,omitempty"`
	IsTransient    bool   `json:"is_transient,omitempty"`
	ErrorUserTitle string `json:"error_user_title,omitempty"`
	ErrorUserMsg   string `json:"error_user_msg,omitempty"`
	// ErrorData is WhatsApp's error_data; its details explain the code
	// ("Message failed to send because more than 24 hours have passed…").
	ErrorData GraphErrorData `json:"error_data,omitzero"`
}

// GraphErrorData is error_data of a WhatsApp Cloud API error.
type GraphErrorData struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Details          string `json:"details,omitempty"`
}

// ChannelCode is "code/subcode", or "code" without a subcode.
func (g *GraphError) ChannelCode() string {
	if g.ErrorSubcode == 0 {
		return strconv.Itoa(g.Code)
	}
	return strconv.Itoa(g.Code) + "/" + strconv.Itoa(g.ErrorSubcode)
}

var errorKey = []byte(`"error"`)

// graphParsers parses error bodies and usage headers.
var graphParsers fastjson.ParserPool

// ParseError reads the Graph error envelope in body. It reports false when
// body is not JSON or carries no "error" object with a numeric code. The
// result owns its memory.
func ParseError(body []byte) (*GraphError, bool) {
	p := graphParsers.Get()
	defer graphParsers.Put(p)
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, false
	}
	e := v.Get("error")
	if e == nil || e.Type() != fastjson.TypeObject {
		return nil, false
	}
	code := e.Get("code")
	if code == nil || code.Type() != fastjson.TypeNumber {
		return nil, false
	}
	return &GraphError{
		Message:        string(e.GetStringBytes("message")),
		Type:           string(e.GetStringBytes("type")),
		Code:           code.GetInt(),
		ErrorSubcode:   e.GetInt("error_subcode"),
		FBTraceID:      string(e.GetStringBytes("fbtrace_id")),
		IsTransient:    e.GetBool("is_transient"),
		ErrorUserTitle: string(e.GetStringBytes("error_user_title")),
		ErrorUserMsg:   string(e.GetStringBytes("error_user_msg")),
		ErrorData: GraphErrorData{
			MessagingProduct: string(e.GetStringBytes("error_data", "messaging_product")),
			Details:          string(e.GetStringBytes("error_data", "details")),
		},
	}, true
}

// Classify turns one Graph API answer into an *adapters.APIError, or nil
// when status is 2xx and body holds no error envelope. It follows the table
// of channels/meta.md §10, branching on code and subcode first and on the
// HTTP status only when the body says nothing: a 200 carrying an error is
// an error, and a 500 carrying code 100 is a request bug. hdr supplies
// Retry-After and X-Business-Use-Case-Usage for throttling; it may be nil.
//
// A code outside the table is transient when Meta marks it is_transient,
// rate-limited under HTTP 429, transient "server_error" under 5xx, else
// request "unknown_error". A body that is no Graph error falls back on the
// status alone: 429 rate-limited, 5xx transient "server_error", other 4xx
// request "invalid_request", 2xx success. Throttling without a hint waits
// DefaultRetryAfter or UsageRetryAfter by code; see retryAfter.
//
// Classify is channel-neutral: Messenger, Instagram and WhatsApp share it.
func Classify(status int, body []byte, hdr adapters.Peeker) *adapters.APIError {
	if status >= 200 && status < 300 && !bytes.Contains(body, errorKey) {
		return nil // the usual success: no parse, no allocation
	}
	g, ok := ParseError(body)
	if !ok {
		return classifyStatus(status, hdr)
	}
	ae := &adapters.APIError{ChannelCode: g.ChannelCode(), HTTPStatus: status, Message: message(g)}
	ae.Class, ae.Code = classifyCode(g.Code, g.ErrorSubcode)
	switch {
	case ae.Class == 0 && g.IsTransient:
		ae.Class, ae.Code = adapters.ClassTransient, "temporary_failure"
	case ae.Class == 0 && status == fasthttp.StatusTooManyRequests:
		ae.Class, ae.Code = adapters.ClassRateLimited, "rate_limited"
	case ae.Class == 0 && status >= 500:
		ae.Class, ae.Code = adapters.ClassTransient, "server_error"
	case ae.Class == 0:
		ae.Class, ae.Code = adapters.ClassRequest, "unknown_error"
	}
	if ae.Class == adapters.ClassRateLimited {
		ae.RetryAfter = retryAfter(hdr, defaultWait(g.Code))
		if g.Code == 131056 { // one recipient only: requeue it, not the bot
			ae.RetryAfter = max(ae.RetryAfter, PairRetryAfter)
			ae.PerRecipient = true
		}
	}
	return ae
}

// classifyStatus handles an answer whose body is no Graph error.
func classifyStatus(status int, hdr adapters.Peeker) *adapters.APIError {
	if status >= 200 && status < 300 {
		return nil
	}
	ae := &adapters.APIError{HTTPStatus: status, Message: "HTTP " + strconv.Itoa(status) + " without a Graph error body"}
	switch {
	case status == fasthttp.StatusTooManyRequests:
		ae.Class, ae.Code = adapters.ClassRateLimited, "rate_limited"
		ae.RetryAfter = retryAfter(hdr, DefaultRetryAfter)
	case status >= 500:
		ae.Class, ae.Code = adapters.ClassTransient, "server_error"
	default:
		ae.Class, ae.Code = adapters.ClassRequest, "invalid_request"
	}
	return ae
}

// classifyCode is the table of channels/meta.md §10; class 0 means the code
// is not in it.
func classifyCode(code, sub int) (adapters.Class, string) {
	const (
		transient = adapters.ClassTransient
		limited   = adapters.ClassRateLimited
		recipient = adapters.ClassRecipient
		request   = adapters.ClassRequest
		config    = adapters.ClassConfig
	)
	switch code {
	// Transient: retry with backoff, counts toward the breaker.
	case 1, 2, 131000:
		return transient, "server_error"
	case 1200:
		return transient, "temporary_failure"
	case 131057:
		return transient, "maintenance"
	case 131048:
		return transient, "spam_rate_limited"
	case 133016:
		return transient, "registration_rate_limited"
	case 131053:
		return transient, "media_upload_failed"

	// Throttling: wait RetryAfter; never trips the breaker.
	case 4, 17, 32, 613, 80001, 80002, 80006, 80007, 80008, 130429:
		return limited, "rate_limited"
	case 131056:
		return limited, "pair_rate_limited"

	// Permanent for one recipient.
	case 551:
		return recipient, "user_unavailable"
	case 131047:
		return recipient, "reengagement_required"
	case 131026:
		return recipient, "undeliverable"
	case 131049:
		return recipient, "ecosystem_limit"
	case 131021:
		return recipient, "recipient_is_sender"
	case 131051:
		return recipient, "unsupported_message_type"

	// Code 10 is a permission error unless a subcode says otherwise.
	case 10:
		switch sub {
		case 2018108:
			return recipient, "user_unavailable"
		case 2018278, 2534022, 2018065:
			return recipient, "outside_window"
		case 1893063:
			return config, "page_restricted"
		}
		return config, "permission_denied"

	// Code 100 is a bad parameter unless a subcode names the recipient.
	case 100:
		switch sub {
		case 2018001:
			return recipient, "no_matching_user"
		case 2018109:
			return recipient, "attachment_too_large"
		}
		return request, "invalid_request"
	case 131008, 131009:
		return request, "invalid_request"

	// Configuration and auth: alarm, stop the bot.
	case 190, 102:
		return config, "bad_token"
	case 3, 230, 131005:
		return config, "permission_denied"
	case 368:
		return config, "policy_blocked"
	case 131031:
		return config, "account_locked"
	case 131042:
		return config, "payment_required"
	case 133010:
		return config, "not_registered"
	case 130497:
		return config, "country_restricted"
	}
	switch {
	case code >= 132000 && code <= 132016: // template errors
		return request, "invalid_request"
	case code == 200 && sub == 1545041:
		return recipient, "user_unavailable"
	case code >= 200 && code <= 299:
		return config, "permission_denied"
	}
	return 0, ""
}

func defaultWait(code int) time.Duration {
	switch code {
	case 4, 17, 32, 80001, 80002, 80006, 80007, 80008:
		return UsageRetryAfter
	}
	return DefaultRetryAfter
}

// message is what the backend sees: Meta's developer message (or the
// user-facing one when it is missing), WhatsApp's error_data.details when
// it adds to it, and the trace id support asks for.
func message(g *GraphError) string {
	m := g.Message
	if m == "" {
		m = g.ErrorUserMsg
	}
	if d := g.ErrorData.Details; d != "" && !strings.Contains(m, d) {
		if m != "" {
			m += ": "
		}
		m += d
	}
	if g.FBTraceID != "" {
		m += " (fbtrace_id " + g.FBTraceID + ")"
	}
	return m
}

// retryAfter reads how long Meta asked us to wait: the larger of
// Retry-After (seconds or an HTTP date) and the largest
// estimated_time_to_regain_access (minutes) in X-Business-Use-Case-Usage,
// capped at MaxRetryAfter; def when neither says.
func retryAfter(hdr adapters.Peeker, def time.Duration) time.Duration {
	if hdr == nil {
		return def
	}
	d := max(parseRetryAfter(hdr.Peek("Retry-After")), regainAccess(hdr.Peek("X-Business-Use-Case-Usage")))
	if d <= 0 {
		return def
	}
	return min(d, MaxRetryAfter)
}

func parseRetryAfter(v []byte) time.Duration {
	if len(v) == 0 {
		return 0
	}
	if n, err := strconv.ParseUint(string(v), 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := fasthttp.ParseHTTPDate(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// regainAccess reads X-Business-Use-Case-Usage:
// {"<business-object-id>":[{"type":"messenger","call_count":100,…,
// "estimated_time_to_regain_access":19}]}.
func regainAccess(v []byte) time.Duration {
	if len(v) == 0 {
		return 0
	}
	p := graphParsers.Get()
	defer graphParsers.Put(p)
	root, err := p.ParseBytes(v)
	if err != nil {
		return 0
	}
	o, err := root.Object()
	if err != nil {
		return 0
	}
	minutes := 0
	o.Visit(func(_ []byte, ids *fastjson.Value) {
		for _, u := range ids.GetArray() {
			minutes = max(minutes, u.GetInt("estimated_time_to_regain_access"))
		}
	})
	return time.Duration(minutes) * time.Minute
}
