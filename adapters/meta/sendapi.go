package meta

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Graph paths of the Send API and the handover protocol, relative to the
// API base. The access token goes in the access_token query argument,
// added at send time: rendered paths never carry it.
const (
	PathMessages             = "/me/messages"
	PathPassThreadControl    = "/me/pass_thread_control"
	PathTakeThreadControl    = "/me/take_thread_control"
	PathRequestThreadControl = "/me/request_thread_control"
	PathReleaseThreadControl = "/me/release_thread_control"
	PathThreadOwner          = "/me/thread_owner"
)

// PageInboxAppID is the app id of the Page Inbox, target of the inbox
// handover action.
const PageInboxAppID = "263902037430900"

// Send API limits every channel of it shares (channels/meta.md §7), in
// characters (runes). The text limit differs: SendAPI.MaxText.
const (
	MaxButtonTextLen    = 640
	MaxQuickReplies     = 13
	MaxQuickReplyTitle  = 20
	MaxPayloadLen       = 1000
	MaxButtons          = 3
	MaxButtonTitle      = 20
	MaxCards            = 10
	MaxCardTitle        = 80
	MaxMediaButtons     = 1
	MaxOTNTitle         = 65
	MaxHandoverMetadata = 1000
	// maxCarouselButtons is what a carousel of buttons can hold when more
	// than MaxButtons come with text.
	maxCarouselButtons = MaxButtons * MaxCards
)

// Wire values of the Send API.
const (
	messagingResponse    = "RESPONSE"
	messagingUpdate      = "UPDATE"
	messagingMessageTag  = "MESSAGE_TAG"
	attachmentTemplate   = "template"
	attachmentLikeHeart  = "like_heart"
	templateButton       = "button"
	templateGeneric      = "generic"
	templateMedia        = "media"
	templateOTNRequest   = "one_time_notif_req"
	buttonTypeWebURL     = "web_url"
	buttonTypePostback   = "postback"
	buttonTypePhone      = "phone_number"
	buttonTypeAcctLink   = "account_link"
	buttonTypeAcctUnlink = "account_unlink"
)

// SendAPI is one channel's view of the Messenger Send API
// (POST /me/messages, channels/meta.md §7): Messenger and Instagram each
// hold one, filled with what their channel accepts, and share the
// rendering, the limits checks, the degradations and the calls. A feature
// a channel lacks is refused with a *adapters.RenderError before any call,
// or, for quick-reply extras, dropped and reported. Fields are read-only
// once in use.
type SendAPI struct {
	// Channel names the channel in messages ("Messenger", "Instagram").
	Channel string
	// Bot and User name the bot and the person's id in messages ("page",
	// "PSID"; "Instagram account", "IGSID").
	Bot, User string

	// MaxText is the limit of message.text, in characters, or in UTF-8
	// bytes when TextBytes is set (Instagram's ≈1000 bytes).
	MaxText   int
	TextBytes bool

	// QuickReplyImages: text quick replies may carry image_url; without
	// it the image is dropped and reported.
	QuickReplyImages bool
	// ContactQuickReplies: user_email and user_phone_number quick replies
	// exist; without it they are dropped and reported.
	ContactQuickReplies bool
	// PhoneButtons, AccountButtons: phone_number and account_link /
	// account_unlink buttons exist; without them such a button is
	// refused (unsupported_button).
	PhoneButtons, AccountButtons bool
	// FileAttachments: attachment type file exists.
	FileAttachments bool
	// LikeHeart: attachment type like_heart (Instagram's heart sticker,
	// no url) exists.
	LikeHeart bool
	// MediaTemplate: the media template exists (reply media).
	MediaTemplate bool
	// OTN: one-time notifications exist (otn, otn_request, and sending
	// to a stored token).
	OTN bool
}

// Render appends the Send API request body for r to dst and returns it
// with the endpoint path (relative to the API base, without the token) and
// what rendering changed to fit the channel. tokens maps bot ids to access
// tokens: a bot without one is unknown_bot. Errors are
// *adapters.RenderError and are found before any call; on error dst is
// returned unchanged.
//
// Render never modifies r: it expands the Messenger Actions shorthand
// (normalize.Reply.Expand, idempotent) on a pooled copy, so callers may or
// may not have expanded already, and may share r between goroutines.
//
// Degradation (the adapters' README.md, "Outbound"): more than 13 quick
// replies keep the first 13; titles beyond their limit are cut with "…";
// more than 3 buttons with text become a carousel of cards of 3 buttons
// each, titled with the text (at most 30 buttons); more than 10 cards keep
// the first 10; more than 3 buttons on a card, or more than 1 on a media
// template, keep the first ones; quick-reply features the channel lacks
// are dropped. Every change is reported in degraded.
func (api *SendAPI) Render(dst []byte, tokens map[string]string, to adapters.Recipient, r *normalize.Reply) (body []byte, path string, degraded []string, err error) {
	if tok := tokens[to.BotID]; tok == "" {
		return dst, "", nil, adapters.Renderf("unknown_bot", "no access token for %s %q", api.Bot, to.BotID)
	}
	if r == nil {
		return dst, "", nil, adapters.Renderf("empty_reply", "the reply has nothing to send")
	}
	if len(r.ChannelData) > 0 && !isJSONObject(r.ChannelData) {
		return dst, "", nil, adapters.Renderf("invalid_channel_data", "channel_data must be a JSON object")
	}
	rs := renderers.Get().(*renderer)
	defer rs.release()
	rs.api = api
	req, err := rs.build(to, r)
	if err != nil {
		return dst, "", rs.takeDegraded(), err
	}
	start := len(dst)
	dst = req.appendJSON(dst)
	if len(r.ChannelData) > 0 {
		merged, err := mergeChannelData(dst[start:], r.ChannelData)
		if err != nil {
			return dst[:start], "", rs.takeDegraded(), err
		}
		dst = append(dst[:start], merged...)
	}
	return dst, PathMessages, rs.takeDegraded(), nil
}

// RenderHandover appends the body of one handover-protocol action
// (DESIGN §5) to dst and returns it with the HTTP method and the path
// (with its query for owner). tokens is as for Render. Errors are
// *adapters.RenderError.
func (api *SendAPI) RenderHandover(dst []byte, tokens map[string]string, to adapters.Recipient, action, targetAppID, metadata string) (body []byte, method, path string, err error) {
	if tok := tokens[to.BotID]; tok == "" {
		return dst, "", "", adapters.Renderf("unknown_bot", "no access token for %s %q", api.Bot, to.BotID)
	}
	if to.ChannelID == "" {
		return dst, "", "", adapters.Renderf("missing_recipient", "handover needs the person's %s", api.User)
	}
	if n := utf8.RuneCountInString(metadata); n > MaxHandoverMetadata {
		return dst, "", "", adapters.Renderf("metadata_too_long", "metadata is %d characters; the limit is %d", n, MaxHandoverMetadata)
	}
	t := ThreadControlRequest{Recipient: SendRecipient{ID: to.ChannelID}, Metadata: metadata}
	switch action {
	case "inbox":
		path, t.TargetAppID = PathPassThreadControl, PageInboxAppID
	case "pass":
		if !isDigits(targetAppID) {
			return dst, "", "", adapters.Renderf("invalid_target_app_id", "pass needs target_app_id, an app id in digits; got %q", targetAppID)
		}
		path, t.TargetAppID = PathPassThreadControl, json.Number(targetAppID)
	case "take":
		path = PathTakeThreadControl
	case "request":
		path = PathRequestThreadControl
	case "release":
		path, t.Metadata = PathReleaseThreadControl, ""
	case "owner":
		return dst, fasthttp.MethodGet, PathThreadOwner + "?recipient=" + url.QueryEscape(to.ChannelID), nil
	default:
		return dst, "", "", adapters.Renderf("invalid_handover_action", "unknown handover action %q (want inbox, pass, take, request, release or owner)", action)
	}
	return t.appendJSON(dst), fasthttp.MethodPost, path, nil
}

func isDigits(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// renderer holds the scratch space of one Render: the expanded copy of the
// reply and the wire structs, reused through a pool so that a warm render
// allocates only what it reports.
type renderer struct {
	api      *SendAPI
	x        adapters.ExpandedReply
	req      SendRequest
	msg      SendMessage
	att      SendAttachment
	wqrs     []SendQuickReply
	wbtns    []SendButton
	welems   []SendElement
	wacts    []SendDefaultAction
	degraded []string // handed to the caller, never reused
}

var renderers = sync.Pool{New: func() any { return new(renderer) }}

func (rs *renderer) release() {
	// Drop references to the caller's strings before pooling.
	rs.x.Reset()
	rs.wqrs = clearSlice(rs.wqrs)
	rs.wbtns = clearSlice(rs.wbtns)
	rs.welems = clearSlice(rs.welems)
	rs.wacts = clearSlice(rs.wacts)
	rs.req, rs.msg, rs.att = SendRequest{}, SendMessage{}, SendAttachment{}
	rs.degraded, rs.api = nil, nil
	renderers.Put(rs)
}

func clearSlice[T any](s []T) []T {
	clear(s)
	return s[:0]
}

func (rs *renderer) takeDegraded() []string {
	d := rs.degraded
	rs.degraded = nil
	return d
}

func (rs *renderer) degrade(format string, args ...any) {
	rs.degraded = append(rs.degraded, fmt.Sprintf(format, args...))
}

func (rs *renderer) build(to adapters.Recipient, r *normalize.Reply) (*SendRequest, error) {
	r = rs.x.Expand(r)
	api := rs.api
	if !api.OTN && (to.OTNToken != "" || r.OTN || r.OTNRequest != nil) {
		return nil, adapters.Renderf("unsupported_otn", "%s has no one-time notifications (otn, otn_request)", api.Channel)
	}
	if !api.MediaTemplate && r.Media != nil {
		return nil, adapters.Renderf("unsupported_media", "%s has no media template; send the image or video as an attachment", api.Channel)
	}
	req := &rs.req
	switch {
	case to.OTNToken != "":
		req.Recipient.OneTimeNotifToken = to.OTNToken
	case r.OTN:
		return nil, adapters.Renderf("otn_token_missing", "the reply asks for a one-time notification but no token is stored for this person")
	case to.ChannelID == "":
		return nil, adapters.Renderf("missing_recipient", "no %s to send to", api.User)
	default:
		req.Recipient.ID = to.ChannelID
	}

	hasContent := r.Text != "" || len(r.Buttons) > 0 || len(r.Cards) > 0 || r.Attachment != nil ||
		r.Media != nil || r.OTNRequest != nil || len(r.QuickReplies) > 0
	if r.SenderAction != "" {
		// A sender action travels alone: only recipient beside it.
		switch r.SenderAction {
		case normalize.SenderActionTypingOn, normalize.SenderActionTypingOff, normalize.SenderActionMarkSeen:
		default:
			return nil, adapters.Renderf("invalid_sender_action", "sender_action %q is not typing_on, typing_off or mark_seen", r.SenderAction)
		}
		if hasContent {
			return nil, adapters.Renderf("mixed_sender_action", "sender_action is sent alone; send the content as a separate reply")
		}
		req.SenderAction = r.SenderAction
		return req, nil
	}
	if !hasContent && len(r.ChannelData) == 0 {
		return nil, adapters.Renderf("empty_reply", "the reply has nothing to send")
	}
	if err := rs.messagingType(r, to.Response); err != nil {
		return nil, err
	}
	if !hasContent {
		return req, nil // channel_data supplies the rest
	}

	// One of these goes per message.
	var parts [5]string
	k := 0
	if r.Text != "" || len(r.Buttons) > 0 {
		parts[k], k = "text", k+1
	}
	if len(r.Cards) > 0 {
		parts[k], k = "cards", k+1
	}
	if r.Attachment != nil {
		parts[k], k = "attachment", k+1
	}
	if r.Media != nil {
		parts[k], k = "media", k+1
	}
	if r.OTNRequest != nil {
		parts[k], k = "otn_request", k+1
	}
	if k > 1 {
		return nil, adapters.Renderf("unsupported_combination", "%s sends one of %s per message; got %s", api.Channel, api.contentKinds(), strings.Join(parts[:k], " and "))
	}
	req.Message = &rs.msg
	var err error
	switch {
	case len(r.Buttons) > 0:
		err = rs.buttonTemplate(r.Text, r.Buttons)
	case r.Text != "":
		if n := api.textLen(r.Text); n > api.MaxText {
			return nil, adapters.Renderf("text_too_long", "text is %d %s; the limit is %d", n, api.textUnit(), api.MaxText)
		}
		rs.msg.Text = r.Text
	case len(r.Cards) > 0:
		err = rs.genericTemplate(r.Cards)
	case r.Attachment != nil:
		err = rs.attachment(r.Attachment)
	case r.Media != nil:
		err = rs.mediaTemplate(r.Media)
	case r.OTNRequest != nil:
		err = rs.otnRequest(r.OTNRequest)
	default:
		return nil, adapters.Renderf("quick_replies_need_content", "quick replies need text, an attachment or a template to ride on")
	}
	if err != nil {
		return nil, err
	}
	if err := rs.quickReplies(r.QuickReplies); err != nil {
		return nil, err
	}
	return req, nil
}

// textLen measures text as MaxText counts it.
func (api *SendAPI) textLen(s string) int {
	if api.TextBytes {
		return len(s)
	}
	return utf8.RuneCountInString(s)
}

func (api *SendAPI) textUnit() string {
	if api.TextBytes {
		return "bytes"
	}
	return "characters"
}

// contentKinds lists, for messages, the parts of which one goes per
// message.
func (api *SendAPI) contentKinds() string {
	switch {
	case api.MediaTemplate && api.OTN:
		return "text (with buttons), cards, attachment, media or otn_request"
	case api.MediaTemplate:
		return "text (with buttons), cards, attachment or media"
	case api.OTN:
		return "text (with buttons), cards, attachment or otn_request"
	}
	return "text (with buttons), cards or attachment"
}

func (rs *renderer) messagingType(r *normalize.Reply, response bool) error {
	req := &rs.req
	switch {
	case r.MessagingType != "":
		switch {
		case strings.EqualFold(r.MessagingType, messagingResponse):
			req.MessagingType = messagingResponse
		case strings.EqualFold(r.MessagingType, messagingUpdate):
			req.MessagingType = messagingUpdate
		case strings.EqualFold(r.MessagingType, messagingMessageTag):
			req.MessagingType = messagingMessageTag
		default:
			return adapters.Renderf("invalid_messaging_type", "messaging_type %q is not RESPONSE, UPDATE or MESSAGE_TAG", r.MessagingType)
		}
		if req.MessagingType == messagingMessageTag && r.Tag == "" {
			return adapters.Renderf("tag_required", "messaging_type MESSAGE_TAG needs a tag")
		}
		if req.MessagingType != messagingMessageTag && r.Tag != "" {
			return adapters.Renderf("tag_conflict", "a tag is sent with messaging_type MESSAGE_TAG, not %s", req.MessagingType)
		}
	case r.Tag != "":
		req.MessagingType = messagingMessageTag
	case response:
		req.MessagingType = messagingResponse
	default:
		req.MessagingType = messagingUpdate
	}
	if req.MessagingType == messagingMessageTag {
		req.Tag = r.Tag
	}
	return nil
}

func (rs *renderer) quickReplies(qs []normalize.QuickReply) error {
	if len(qs) == 0 {
		return nil
	}
	api := rs.api
	// Contact quick replies the channel lacks are dropped before the
	// count is cut.
	usable := len(qs)
	if !api.ContactQuickReplies {
		for i := range qs {
			if isContactQuickReply(qs[i].Type) {
				usable--
			}
		}
	}
	if usable > MaxQuickReplies {
		rs.degrade("quick_replies: %d → %d", usable, MaxQuickReplies)
	}
	rs.wqrs = rs.wqrs[:0]
	for i, q := range qs {
		if isContactQuickReply(q.Type) && !api.ContactQuickReplies {
			rs.degrade("quick_replies[%d]: %s is not available on %s, dropped", i, q.Type, api.Channel)
			continue
		}
		if len(rs.wqrs) == MaxQuickReplies {
			continue
		}
		w := SendQuickReply{ContentType: q.Type}
		switch q.Type {
		case normalize.QuickReplyUserEmail, normalize.QuickReplyUserPhone:
		case normalize.QuickReplyText:
			img := q.ImageURL
			if img != "" && !api.QuickReplyImages {
				rs.degrade("quick_replies[%d].image_url: dropped, %s quick replies are text only", i, api.Channel)
				img = ""
			}
			if q.Title == "" && img == "" {
				if !api.QuickReplyImages {
					return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a title", i)
				}
				return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a title or an image_url", i)
			}
			if q.Payload == "" {
				return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] needs a payload", i)
			}
			if n := utf8.RuneCountInString(q.Payload); n > MaxPayloadLen {
				return adapters.Renderf("payload_too_long", "quick_replies[%d].payload is %d characters; the limit is %d", i, n, MaxPayloadLen)
			}
			if img != "" && !adapters.IsWebURL(img) {
				return adapters.Renderf("invalid_url", "quick_replies[%d].image_url is not an http(s) URL", i)
			}
			w.Title, w.Payload, w.ImageURL = q.Title, q.Payload, img
			if t, cut := adapters.Truncate(q.Title, MaxQuickReplyTitle); cut {
				w.Title = t
				rs.degrade("quick_replies[%d].title: truncated to %d characters", i, MaxQuickReplyTitle)
			}
		default:
			return adapters.Renderf("invalid_quick_reply", "quick_replies[%d] has unknown type %q", i, q.Type)
		}
		rs.wqrs = append(rs.wqrs, w)
	}
	rs.msg.QuickReplies = rs.wqrs
	return nil
}

func isContactQuickReply(t string) bool {
	return t == normalize.QuickReplyUserEmail || t == normalize.QuickReplyUserPhone
}

// buttonTemplate renders text with buttons: a button template for up to
// three, else a carousel of cards titled with the text, three buttons each.
func (rs *renderer) buttonTemplate(text string, bs []normalize.Button) error {
	if text == "" {
		return adapters.Renderf("buttons_need_text", "buttons are sent with text on %s", rs.api.Channel)
	}
	if n := utf8.RuneCountInString(text); n > MaxButtonTextLen {
		return adapters.Renderf("text_too_long", "text with buttons is %d characters; the limit is %d", n, MaxButtonTextLen)
	}
	if len(bs) > maxCarouselButtons {
		return adapters.Renderf("too_many_buttons", "%d buttons; %s shows at most %d (%d cards of %d)", len(bs), rs.api.Channel, maxCarouselButtons, MaxCards, MaxButtons)
	}
	rs.wbtns = slices.Grow(rs.wbtns, len(bs))
	if len(bs) <= MaxButtons {
		btns, err := rs.buttons(bs, loc{"buttons", -1})
		if err != nil {
			return err
		}
		rs.att = SendAttachment{Type: attachmentTemplate, Payload: SendPayload{TemplateType: templateButton, Text: text, Buttons: btns}}
		rs.msg.Attachment = &rs.att
		return nil
	}
	btns, err := rs.buttons(bs, loc{"buttons", -1})
	if err != nil {
		return err
	}
	n := (len(btns) + MaxButtons - 1) / MaxButtons
	rs.degrade("buttons: %d → carousel of %d cards with up to %d buttons each", len(bs), n, MaxButtons)
	title, cut := adapters.Truncate(text, MaxCardTitle)
	if cut {
		rs.degrade("text: truncated to %d characters as card title", MaxCardTitle)
	}
	rs.welems = slices.Grow(rs.welems, n)[:0]
	for i := 0; i < len(btns); i += MaxButtons {
		rs.welems = append(rs.welems, SendElement{Title: title, Buttons: btns[i:min(i+MaxButtons, len(btns))]})
	}
	rs.att = SendAttachment{Type: attachmentTemplate, Payload: SendPayload{TemplateType: templateGeneric, Elements: rs.welems}}
	rs.msg.Attachment = &rs.att
	return nil
}

func (rs *renderer) genericTemplate(cards []normalize.Card) error {
	if len(cards) > MaxCards {
		rs.degrade("cards: %d → %d", len(cards), MaxCards)
		cards = cards[:MaxCards]
	}
	nb := 0
	for i := range cards {
		nb += min(len(cards[i].Buttons), MaxButtons)
	}
	rs.wbtns = slices.Grow(rs.wbtns, nb)
	rs.welems = slices.Grow(rs.welems, len(cards))[:0]
	rs.wacts = slices.Grow(rs.wacts, len(cards))[:0]
	for i, c := range cards {
		if c.Title == "" {
			return adapters.Renderf("card_title_missing", "cards[%d] needs a title", i)
		}
		e := SendElement{Title: c.Title, Subtitle: c.Subtitle, ImageURL: c.ImageURL}
		if t, cut := adapters.Truncate(c.Title, MaxCardTitle); cut {
			e.Title = t
			rs.degrade("cards[%d].title: truncated to %d characters", i, MaxCardTitle)
		}
		if t, cut := adapters.Truncate(c.Subtitle, MaxCardTitle); cut {
			e.Subtitle = t
			rs.degrade("cards[%d].subtitle: truncated to %d characters", i, MaxCardTitle)
		}
		if c.ImageURL != "" && !adapters.IsWebURL(c.ImageURL) {
			return adapters.Renderf("invalid_url", "cards[%d].image_url is not an http(s) URL", i)
		}
		if c.DefaultURL != "" {
			if !adapters.IsWebURL(c.DefaultURL) {
				return adapters.Renderf("invalid_url", "cards[%d].default_url is not an http(s) URL", i)
			}
			rs.wacts = append(rs.wacts, SendDefaultAction{Type: buttonTypeWebURL, URL: c.DefaultURL})
			e.DefaultAction = &rs.wacts[len(rs.wacts)-1]
		}
		bs := c.Buttons
		if len(bs) > MaxButtons {
			rs.degrade("cards[%d].buttons: %d → %d", i, len(bs), MaxButtons)
			bs = bs[:MaxButtons]
		}
		btns, err := rs.buttons(bs, loc{"cards", i})
		if err != nil {
			return err
		}
		e.Buttons = btns
		rs.welems = append(rs.welems, e)
	}
	rs.att = SendAttachment{Type: attachmentTemplate, Payload: SendPayload{TemplateType: templateGeneric, Elements: rs.welems}}
	rs.msg.Attachment = &rs.att
	return nil
}

func (rs *renderer) attachment(at *normalize.OutAttachment) error {
	api := rs.api
	switch {
	case at.Type == "image", at.Type == "video", at.Type == "audio", at.Type == "file" && api.FileAttachments:
	case at.Type == attachmentLikeHeart && api.LikeHeart:
		// A sticker: the type alone, no payload.
		if at.URL != "" || at.AttachmentID != "" {
			return adapters.Renderf("invalid_attachment", "a like_heart attachment carries no url or attachment_id")
		}
		rs.att = SendAttachment{Type: attachmentLikeHeart}
		rs.msg.Attachment = &rs.att
		return nil
	case api.FileAttachments:
		return adapters.Renderf("invalid_attachment_type", "attachment type %q is not image, video, audio or file", at.Type)
	default:
		return adapters.Renderf("invalid_attachment_type", "attachment type %q is not image, video, audio or like_heart on %s", at.Type, api.Channel)
	}
	p := SendPayload{}
	switch {
	case at.URL != "" && at.AttachmentID != "":
		return adapters.Renderf("invalid_attachment", "give the attachment's url or its attachment_id, not both")
	case at.AttachmentID != "":
		p.AttachmentID = at.AttachmentID
	case at.URL != "":
		if !adapters.IsWebURL(at.URL) {
			return adapters.Renderf("invalid_url", "attachment url is not an http(s) URL")
		}
		p.URL, p.IsReusable = at.URL, at.Reusable
	default:
		return adapters.Renderf("invalid_attachment", "the attachment needs a url or an attachment_id")
	}
	rs.att = SendAttachment{Type: at.Type, Payload: p}
	rs.msg.Attachment = &rs.att
	return nil
}

func (rs *renderer) mediaTemplate(m *normalize.Media) error {
	e := SendElement{MediaType: m.Type}
	switch m.Type {
	case "image", "video":
	default:
		return adapters.Renderf("invalid_media_type", "media type %q is not image or video", m.Type)
	}
	switch {
	case m.URL != "" && m.AttachmentID != "":
		return adapters.Renderf("invalid_media", "give the media's url or its attachment_id, not both")
	case m.AttachmentID != "":
		e.AttachmentID = m.AttachmentID
	case m.URL != "":
		if !isFacebookURL(m.URL) {
			return adapters.Renderf("media_url_not_facebook", "the media template takes an attachment_id or a facebook.com URL only")
		}
		e.URL = m.URL
	default:
		return adapters.Renderf("invalid_media", "media needs a url or an attachment_id")
	}
	bs := m.Buttons
	if len(bs) > MaxMediaButtons {
		rs.degrade("media.buttons: %d → %d", len(bs), MaxMediaButtons)
		bs = bs[:MaxMediaButtons]
	}
	rs.wbtns = slices.Grow(rs.wbtns, len(bs))
	btns, err := rs.buttons(bs, loc{"media.buttons", -1})
	if err != nil {
		return err
	}
	e.Buttons = btns
	rs.welems = append(rs.welems[:0], e)
	rs.att = SendAttachment{Type: attachmentTemplate, Payload: SendPayload{TemplateType: templateMedia, Elements: rs.welems}}
	rs.msg.Attachment = &rs.att
	return nil
}

func (rs *renderer) otnRequest(o *normalize.OTNRequest) error {
	if o.Title == "" {
		return adapters.Renderf("otn_title_missing", "otn_request needs a title")
	}
	p := SendPayload{TemplateType: templateOTNRequest, Title: o.Title, Payload: o.Payload}
	if t, cut := adapters.Truncate(o.Title, MaxOTNTitle); cut {
		p.Title = t
		rs.degrade("otn_request.title: truncated to %d characters", MaxOTNTitle)
	}
	if p.Payload == "" {
		p.Payload = o.Title
	}
	if n := utf8.RuneCountInString(p.Payload); n > MaxPayloadLen {
		return adapters.Renderf("payload_too_long", "otn_request.payload is %d characters; the limit is %d", n, MaxPayloadLen)
	}
	rs.att = SendAttachment{Type: attachmentTemplate, Payload: p}
	rs.msg.Attachment = &rs.att
	return nil
}

// loc names a button list in messages, formatted only when one is needed:
// cards[2].buttons[0], buttons[1].
type loc struct {
	name string
	card int // -1 unless name is "cards"
}

func (l loc) at(i int) string {
	if l.card >= 0 {
		return fmt.Sprintf("%s[%d].buttons[%d]", l.name, l.card, i)
	}
	return fmt.Sprintf("%s[%d]", l.name, i)
}

// buttons appends the wire form of bs to rs.wbtns, whose capacity the
// caller reserved, and returns that part of it.
func (rs *renderer) buttons(bs []normalize.Button, where loc) ([]SendButton, error) {
	start := len(rs.wbtns)
	for i, b := range bs {
		w := SendButton{Title: b.Title}
		switch b.Type {
		case normalize.ButtonPostback:
			if n := utf8.RuneCountInString(b.Payload); n > MaxPayloadLen {
				return nil, adapters.Renderf("payload_too_long", "%s.payload is %d characters; the limit is %d", where.at(i), n, MaxPayloadLen)
			}
			w.Type, w.Payload = buttonTypePostback, b.Payload
		case normalize.ButtonURL:
			if !adapters.IsWebURL(b.URL) {
				return nil, adapters.Renderf("invalid_url", "%s.url is not an http(s) URL", where.at(i))
			}
			w.Type, w.URL = buttonTypeWebURL, b.URL
		case normalize.ButtonPhone:
			if !rs.api.PhoneButtons {
				return nil, adapters.Renderf("unsupported_button", "%s: %s has no phone_number buttons", where.at(i), rs.api.Channel)
			}
			if !adapters.IsE164(b.Phone) {
				return nil, adapters.Renderf("invalid_phone_number", "%s.phone must be +E.164, like +16505551234", where.at(i))
			}
			w.Type, w.Payload = buttonTypePhone, b.Phone
		case normalize.ButtonAccountLink, normalize.ButtonAccountUnlink:
			if !rs.api.AccountButtons {
				return nil, adapters.Renderf("unsupported_button", "%s: %s has no %s buttons", where.at(i), rs.api.Channel, b.Type)
			}
			if b.Type == normalize.ButtonAccountUnlink {
				w = SendButton{Type: buttonTypeAcctUnlink}
				break
			}
			if !strings.HasPrefix(b.URL, "https://") || !adapters.IsWebURL(b.URL) {
				return nil, adapters.Renderf("invalid_url", "%s.url must be an https URL", where.at(i))
			}
			w = SendButton{Type: buttonTypeAcctLink, URL: b.URL}
		default:
			return nil, adapters.Renderf("invalid_button", "%s has unknown type %q", where.at(i), b.Type)
		}
		if w.Type != buttonTypeAcctLink && w.Type != buttonTypeAcctUnlink {
			if w.Title == "" {
				return nil, adapters.Renderf("button_title_missing", "%s needs a title", where.at(i))
			}
			if t, cut := adapters.Truncate(w.Title, MaxButtonTitle); cut {
				w.Title = t
				rs.degrade("%s.title: truncated to %d characters", where.at(i), MaxButtonTitle)
			}
		}
		rs.wbtns = append(rs.wbtns, w)
	}
	if len(rs.wbtns) == start {
		return nil, nil
	}
	return rs.wbtns[start:len(rs.wbtns):len(rs.wbtns)], nil
}

// isFacebookURL accepts an http(s) URL whose host is facebook.com or one
// of its subdomains, as the media template requires. It parses the URL
// rather than searching it, so facebook.com.evil.example,
// evil.example/facebook.com and user@ tricks fail.
func isFacebookURL(s string) bool {
	if !adapters.IsWebURL(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "facebook.com" || strings.HasSuffix(h, ".facebook.com")
}

func isJSONObject(raw []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

// mergeChannelData applies channel_data to the rendered body as a JSON
// merge patch (adapters.MergePatch); members come out sorted by name.
func mergeChannelData(body, patch []byte) ([]byte, error) {
	merged, err := adapters.MergePatch(body, patch)
	if err != nil {
		return nil, adapters.Renderf("invalid_channel_data", "merging channel_data: %v", err)
	}
	return merged, nil
}
