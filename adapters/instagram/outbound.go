package instagram

import (
	"context"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// MaxTextBytes is Instagram's limit of message.text: about 1000 bytes of
// UTF-8 by the vendors' docs (channels/meta.md §7; §12 lists it as not
// confirmed on Meta's page). Courier splits at 1000; Switchboard refuses
// longer text rather than sending several messages for one reply.
const MaxTextBytes = 1000

// sendAPI is the Send API as Instagram accepts it (channels/meta.md §7:
// text, image/video/audio, like_heart, generic and button templates, text
// quick replies). Quick-reply images and contact quick replies are
// dropped and reported; phone and account buttons, file attachments, the
// media template and one-time notifications are refused.
var sendAPI = meta.SendAPI{
	Channel:   "Instagram",
	Bot:       "Instagram account",
	User:      "IGSID",
	MaxText:   MaxTextBytes,
	TextBytes: true,
	LikeHeart: true,
}

// Send renders r for to and calls the Send API once
// (POST {api_base}/me/messages with the account's token). Errors are
// *adapters.RenderError (nothing was called) or *adapters.APIError
// classified by meta.Classify. Sent.Degraded is set on errors too.
func (a *Adapter) Send(ctx context.Context, to adapters.Recipient, r *normalize.Reply) (adapters.Sent, error) {
	return sendAPI.Send(ctx, a.Endpoint, to, r)
}

// Render appends the Send API request body for r to dst and returns it
// with the endpoint path (relative to APIBase, without the token) and what
// rendering changed to fit Instagram (README.md, "Outbound"). Errors are
// *adapters.RenderError and are found before any call; on error dst is
// returned unchanged. Render never modifies r.
func (a *Adapter) Render(dst []byte, to adapters.Recipient, r *normalize.Reply) (body []byte, path string, degraded []string, err error) {
	return sendAPI.Render(dst, a.Tokens, to, r)
}

// Handover runs one handover-protocol action (DESIGN §5) for the
// Instagram thread of to, as Messenger does: Instagram conversations are
// routed between apps (and the Page Inbox) the same way.
func (a *Adapter) Handover(ctx context.Context, to adapters.Recipient, action, targetAppID, metadata string) (string, error) {
	return sendAPI.Handover(ctx, a.Endpoint, to, action, targetAppID, metadata)
}
