package mockgraph

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/switchboard-gw/switchboard/normalize"
)

// WhatsApp Cloud API limits the mock enforces (channels/meta.md §8), in
// characters.
const (
	waMaxText        = 4096
	waMaxCaption     = 1024
	waMaxBody        = 1024
	waMaxButtons     = 3
	waMaxButtonTitle = 20
	waMaxButtonID    = 256
	waMaxListButton  = 20
	waMaxSections    = 10
	waMaxRows        = 10
	waMaxRowTitle    = 24
	waMaxRowID       = 200
	waMaxRowDesc     = 72
)

// AddPhoneNumber registers a WhatsApp business phone number id and the
// system-user token that sends as it (Authorization: Bearer token).
func (s *Server) AddPhoneNumber(phoneNumberID, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phones[token] = phoneNumberID
}

// SetPairRate limits how often one phone number may send to one
// recipient: a token bucket refilled every every, holding burst messages
// (WhatsApp's pair rate is about one message per 6 s with short bursts
// tolerated). Sends beyond answer 131056. every <= 0 removes the limit.
// Marking a message read is not counted.
func (s *Server) SetPairRate(every time.Duration, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pairEvery, s.pairBurst = every, max(burst, 1)
	if every <= 0 {
		s.pairEvery, s.pairBurst = 0, 0
	}
	clear(s.pairs)
}

var bearerPrefix = []byte("Bearer ")

// isWhatsApp tells a WhatsApp call from a Messenger one: it carries an
// Authorization header, or it has no access_token and is addressed to a
// registered phone number id.
func (s *Server) isWhatsApp(ctx *fasthttp.RequestCtx, node string) bool {
	if len(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)) > 0 {
		return true
	}
	if ctx.QueryArgs().Has("access_token") {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.phones {
		if id == node {
			return true
		}
	}
	return false
}

// serveWhatsApp answers POST /{ver}/{phone-number-id}/messages.
func (s *Server) serveWhatsApp(ctx *fasthttp.RequestCtx, node, edge string, throttle *Throttle) {
	auth := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	s.mu.Lock()
	phone, ok := s.phones[string(bytes.TrimPrefix(auth, bearerPrefix))]
	s.mu.Unlock()
	if !ok || !bytes.HasPrefix(auth, bearerPrefix) {
		s.graphError(ctx, fasthttp.StatusUnauthorized, 190, 0, "Invalid OAuth access token - Cannot parse access token", false)
		return
	}
	if node != phone {
		s.graphError(ctx, 400, 100, 33, "Unsupported post request. Object with ID '"+node+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation", false)
		return
	}
	if edge != "messages" || string(ctx.Method()) != fasthttp.MethodPost {
		s.graphError(ctx, 400, 2500, 0, "Unknown path components: /"+node+"/"+edge, false)
		return
	}
	if throttle != nil {
		code := throttle.Code
		if code == 0 {
			code = 130429
		}
		if throttle.RetryAfter > 0 {
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(int((throttle.RetryAfter+time.Second-1)/time.Second)))
		}
		s.graphErrorDetails(ctx, 400, code, 0, messages[code], false, details[code])
		return
	}
	if !s.allow(phone) {
		s.graphErrorDetails(ctx, 400, 130429, 0, messages[130429], false, details[130429])
		return
	}
	s.waMessages(ctx, phone)
}

// waMessages checks a send or mark-as-read body and answers it.
func (s *Server) waMessages(ctx *fasthttp.RequestCtx, phone string) {
	p := s.parsers.Get()
	defer s.parsers.Put(p)
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil || v.Type() != fastjson.TypeObject {
		s.graphError(ctx, 400, 100, 0, "(#100) The request body is not a JSON object", false)
		return
	}
	if string(v.GetStringBytes("messaging_product")) != "whatsapp" {
		s.graphError(ctx, 400, 100, 0, "(#100) The parameter messaging_product is required.", false)
		return
	}
	if st := v.Get("status"); st != nil {
		if string(st.GetStringBytes()) != "read" || len(v.GetStringBytes("message_id")) == 0 {
			s.graphError(ctx, 400, 100, 0, "(#100) Invalid parameter: status must be read, with message_id", false)
			return
		}
		if ti := v.Get("typing_indicator"); ti != nil && string(ti.GetStringBytes("type")) != "text" {
			s.graphError(ctx, 400, 100, 0, "(#100) Invalid parameter: typing_indicator.type must be text", false)
			return
		}
		ctx.SetBodyString(`{"success":true}`)
		return
	}
	to, bsuid := string(v.GetStringBytes("to")), string(v.GetStringBytes("recipient"))
	if to == "" && bsuid == "" {
		s.graphError(ctx, 400, 100, 0, "(#100) The parameter to is required.", false)
		return
	}
	if msg := checkWhatsAppMessage(v); msg != "" {
		code := 100
		if string(v.GetStringBytes("type")) == "interactive" {
			code = 131009
		}
		s.graphErrorDetails(ctx, 400, code, 0, "(#"+strconv.Itoa(code)+") Parameter value is not valid", false, msg)
		return
	}
	who := to
	if who == "" {
		who = bsuid
	}
	if s.recipientError(ctx, who) {
		return
	}
	if !s.allowPair(phone + "/" + who) {
		s.graphErrorDetails(ctx, 400, 131056, 0, messages[131056], false, details[131056])
		return
	}
	n := s.seq.Add(1)
	out := append([]byte(nil), `{"messaging_product":"whatsapp","contacts":[{"input":`...)
	out = normalize.AppendString(out, who)
	if to != "" {
		out = append(out, `,"wa_id":`...)
	} else {
		out = append(out, `,"user_id":`...)
	}
	out = normalize.AppendString(out, who)
	out = append(out, `}],"messages":[{"id":"wamid.MOCK`...)
	out = strconv.AppendInt(out, n, 10)
	out = append(out, `","message_status":"accepted"}]}`...)
	ctx.SetBody(out)
}

func (s *Server) allowPair(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pairEvery <= 0 {
		return true
	}
	l := s.pairs[key]
	if l == nil {
		l = rate.NewLimiter(rate.Every(s.pairEvery), s.pairBurst)
		s.pairs[key] = l
	}
	return l.Allow()
}

// checkWhatsAppMessage returns what is wrong with a send body, or "".
func checkWhatsAppMessage(v *fastjson.Value) string {
	typ := string(v.GetStringBytes("type"))
	if typ == "" {
		typ = "text" // the Cloud API's default
	}
	obj := v.Get(typ)
	if obj == nil || obj.Type() != fastjson.TypeObject {
		return "the message has no " + typ + " object"
	}
	switch typ {
	case "text":
		n := runes(obj, "body")
		if n == 0 || n > waMaxText {
			return "text.body must be 1 to 4096 characters"
		}
	case "image", "video", "audio", "document", "sticker":
		id, link := obj.Get("id") != nil, obj.Get("link") != nil
		if id == link {
			return typ + " needs an id or a link, not both"
		}
		if runes(obj, "caption") > waMaxCaption {
			return typ + ".caption is longer than 1024 characters"
		}
	case "interactive":
		return checkInteractive(obj)
	case "template":
		if len(obj.GetStringBytes("name")) == 0 || len(obj.GetStringBytes("language", "code")) == 0 {
			return "template needs a name and language.code"
		}
	case "reaction":
		if len(obj.GetStringBytes("message_id")) == 0 {
			return "reaction needs a message_id"
		}
	case "location", "contacts":
	default:
		return "type " + typ + " is not a message type"
	}
	return ""
}

func checkInteractive(in *fastjson.Value) string {
	t := string(in.GetStringBytes("type"))
	if t != "cta_url" && t != "flow" && t != "location_request_message" {
		if n := runes(in, "body", "text"); n == 0 || n > waMaxBody {
			return "interactive.body.text must be 1 to 1024 characters"
		}
	}
	switch t {
	case "button":
		bs := in.GetArray("action", "buttons")
		if len(bs) == 0 || len(bs) > waMaxButtons {
			return "interactive button needs 1 to 3 buttons"
		}
		titles := map[string]bool{}
		for _, b := range bs {
			id, title := b.GetStringBytes("reply", "id"), b.GetStringBytes("reply", "title")
			if len(id) == 0 || utf8.RuneCount(id) > waMaxButtonID {
				return "button reply id must be 1 to 256 characters"
			}
			if n := utf8.RuneCount(title); n == 0 || n > waMaxButtonTitle {
				return "button title must be 1 to 20 characters"
			}
			if titles[string(title)] {
				return "button titles must be unique"
			}
			titles[string(title)] = true
		}
	case "list":
		if n := runes(in, "action", "button"); n == 0 || n > waMaxListButton {
			return "list action.button must be 1 to 20 characters"
		}
		secs := in.GetArray("action", "sections")
		if len(secs) == 0 || len(secs) > waMaxSections {
			return "a list needs 1 to 10 sections"
		}
		rows := 0
		for _, sec := range secs {
			if len(secs) > 1 && len(sec.GetStringBytes("title")) == 0 {
				return "sections need titles when there are several"
			}
			for _, r := range sec.GetArray("rows") {
				rows++
				if n := runes(r, "id"); n == 0 || n > waMaxRowID {
					return "row id must be 1 to 200 characters"
				}
				if n := runes(r, "title"); n == 0 || n > waMaxRowTitle {
					return "row title must be 1 to 24 characters"
				}
				if runes(r, "description") > waMaxRowDesc {
					return "row description must be at most 72 characters"
				}
			}
		}
		if rows == 0 || rows > waMaxRows {
			return "a list holds 1 to 10 rows in all"
		}
	case "cta_url":
		if len(in.GetStringBytes("action", "parameters", "url")) == 0 || runes(in, "action", "parameters", "display_text") == 0 {
			return "cta_url needs action.parameters.display_text and url"
		}
	case "flow", "location_request_message", "product", "product_list", "catalog_message":
	default:
		return "interactive.type " + t + " is not supported"
	}
	return ""
}

// runes counts the characters of the string at keys.
func runes(v *fastjson.Value, keys ...string) int {
	return utf8.RuneCount(v.GetStringBytes(keys...))
}
