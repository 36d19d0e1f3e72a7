package meta

import (
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Messaging windows of Messenger and Instagram (channels/meta.md §9): any
// content for 24 hours after the person's last action; HUMAN_AGENT-tagged
// human replies for 7 days.
const (
	Window           = 24 * time.Hour
	HumanAgentWindow = 7 * 24 * time.Hour
	TagHumanAgent    = "HUMAN_AGENT"
)

// deprecatedTags were retired on April 27, 2026 and now fail with error
// 100 on every Graph version; refusing them here saves the call.
var deprecatedTags = map[string]bool{
	"CONFIRMED_EVENT_UPDATE": true,
	"POST_PURCHASE_UPDATE":   true,
	"ACCOUNT_UPDATE":         true,
}

// CheckWindow applies the 24-hour rule before a send, as
// adapters.Windowed asks: nil when r may go, given the time since the
// person's last action (known is false when there never was one) and
// whether a one-time-notification token will be used; else a
// *adapters.RenderError (tag_deprecated, invalid_tag, outside_window).
// Without api.OTN a one-time notification opens nothing and is not
// offered as a way out.
func (api *SendAPI) CheckWindow(since time.Duration, known bool, r *normalize.Reply, otn bool) error {
	if deprecatedTags[r.Tag] {
		return adapters.Renderf("tag_deprecated", "message tag %s was retired by Meta on 2026-04-27", r.Tag)
	}
	switch {
	case otn && api.OTN:
		return nil
	case known && since <= Window:
		return nil
	case r.Tag == TagHumanAgent && known && since <= HumanAgentWindow:
		return nil
	case r.Tag != "" && r.Tag != TagHumanAgent:
		return adapters.Renderf("invalid_tag", "unknown message tag %s", r.Tag)
	}
	if !api.OTN {
		if !known {
			return adapters.Renderf("outside_window", "no message from this person yet: the 24-hour window is closed")
		}
		return adapters.Renderf("outside_window", "last message from this person was %s ago, beyond the 24-hour window; send with tag HUMAN_AGENT (≤7 days)", since.Round(time.Minute))
	}
	if !known {
		return adapters.Renderf("outside_window", "no message from this person yet: the 24-hour window is closed (use a one-time notification)")
	}
	return adapters.Renderf("outside_window", "last message from this person was %s ago, beyond the 24-hour window; send with tag HUMAN_AGENT (≤7 days) or a one-time notification", since.Round(time.Minute))
}
