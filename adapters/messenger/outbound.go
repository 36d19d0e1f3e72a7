package messenger

import (
	"context"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

var (
	_ adapters.Outbound = (*Adapter)(nil)
	_ adapters.Handover = (*Adapter)(nil)
)

// Graph paths, relative to Adapter.APIBase (meta's, shared with
// Instagram). The page token goes in the access_token query argument,
// added at send time: rendered paths never carry it.
const (
	PathMessages             = meta.PathMessages
	PathPassThreadControl    = meta.PathPassThreadControl
	PathTakeThreadControl    = meta.PathTakeThreadControl
	PathRequestThreadControl = meta.PathRequestThreadControl
	PathReleaseThreadControl = meta.PathReleaseThreadControl
	PathThreadOwner          = meta.PathThreadOwner
)

// PageInboxAppID is the app id of the Page Inbox, target of the inbox
// handover action.
const PageInboxAppID = meta.PageInboxAppID

// Send API limits (channels/meta.md §7), in characters (runes). Only the
// text limit is Messenger's own; the rest are the Send API's, in meta.
const (
	MaxTextLen          = 2000
	MaxButtonTextLen    = meta.MaxButtonTextLen
	MaxQuickReplies     = meta.MaxQuickReplies
	MaxQuickReplyTitle  = meta.MaxQuickReplyTitle
	MaxPayloadLen       = meta.MaxPayloadLen
	MaxButtons          = meta.MaxButtons
	MaxButtonTitle      = meta.MaxButtonTitle
	MaxCards            = meta.MaxCards
	MaxCardTitle        = meta.MaxCardTitle
	MaxMediaButtons     = meta.MaxMediaButtons
	MaxOTNTitle         = meta.MaxOTNTitle
	MaxHandoverMetadata = meta.MaxHandoverMetadata
)

// sendAPI is everything the Send API offers: Messenger is its reference
// channel.
var sendAPI = meta.SendAPI{
	Channel:             "Messenger",
	Bot:                 "page",
	User:                "PSID",
	MaxText:             MaxTextLen,
	QuickReplyImages:    true,
	ContactQuickReplies: true,
	PhoneButtons:        true,
	AccountButtons:      true,
	FileAttachments:     true,
	MediaTemplate:       true,
	OTN:                 true,
}

// endpoint is where this adapter's calls go, read from its fields.
func (a *Adapter) endpoint() meta.Endpoint {
	return meta.Endpoint{APIBase: a.APIBase, Tokens: a.PageTokens, Client: a.Client, Batch: a.Batch}
}

// Send renders r for to and calls the Send API once. Errors are
// *adapters.RenderError (nothing was called) or *adapters.APIError
// classified by meta.Classify. Sent.Degraded is set on errors too.
func (a *Adapter) Send(ctx context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	return sendAPI.Send(ctx, a.endpoint(), to, r)
}

// Handover runs one handover-protocol action (DESIGN §5) for the thread of
// to: inbox passes it to the Page Inbox, pass to targetAppID, take and
// request ask for it, release gives it up, owner returns the owning app id
// ("" for an idle thread).
func (a *Adapter) Handover(ctx context.Context, to adapters.Recipient, action, targetAppID, metadata string) (string, error) {
	return sendAPI.Handover(ctx, a.endpoint(), to, action, targetAppID, metadata)
}

// RenderHandover appends the body of one handover action to dst and
// returns it with the HTTP method and the path (with its query for owner).
// Errors are *adapters.RenderError.
func (a *Adapter) RenderHandover(dst []byte, to adapters.Recipient, action, targetAppID, metadata string) (body []byte, method, path string, err error) {
	return sendAPI.RenderHandover(dst, a.PageTokens, to, action, targetAppID, metadata)
}

// Render appends the Send API request body for r to dst and returns it
// with the endpoint path (relative to APIBase, without the token) and what
// rendering changed to fit Messenger (README.md, "Outbound"). Errors are
// *adapters.RenderError and are found before any call; on error dst is
// returned unchanged. Render never modifies r.
func (a *Adapter) Render(dst []byte, to adapters.Recipient, r *normalize.Reply) (body []byte, path string, degraded []string, err error) {
	return sendAPI.Render(dst, a.PageTokens, to, r)
}
