package whatsapp

import (
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Window is WhatsApp's customer service window (channels/meta.md §9): for
// 24 hours after the person's last message the bot may send anything;
// after it, only approved templates, which Meta bills.
const Window = 24 * time.Hour

var _ adapters.Windowed = (*Adapter)(nil)

// CheckWindow applies the customer service window before a send. Inside
// it anything goes. Outside it, or before the person ever wrote, only a
// template (channel_data {"type":"template","template":{…}}, see
// IsTemplate) and sender actions (marking read, which sends no message)
// pass; anything else is refused with code outside_window, which saves the
// call Meta would refuse with 131047. WhatsApp has no message tags and no
// one-time notifications: a tag does not open the window, and otn is
// ignored (Render refuses an otn reply anyway).
func (a *Adapter) CheckWindow(since time.Duration, known bool, r *normalize.Reply, otn bool) error {
	switch {
	case known && since <= Window:
		return nil
	case IsTemplate(r):
		return nil
	case r.SenderAction != "" && isSenderActionOnly(r):
		return nil
	case !known:
		return adapters.Renderf("outside_window", "no message from this person yet: outside the 24-hour customer service window only an approved template may be sent")
	}
	return adapters.Renderf("outside_window", "last message from this person was %s ago, beyond the 24-hour customer service window: send an approved template (channel_data {\"type\":\"template\",\"template\":{…}})", since.Round(time.Minute))
}

func isSenderActionOnly(r *normalize.Reply) bool {
	return r.Text == "" && len(r.QuickReplies) == 0 && len(r.Buttons) == 0 && len(r.Cards) == 0 &&
		r.Attachment == nil && r.Media == nil && r.OTNRequest == nil
}
