package messenger

import (
	"time"

	"github.com/switchboard-gw/switchboard/adapters"
	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/normalize"
)

// Messaging windows (meta.md §9): any content for 24 hours after the
// person's last action; HUMAN_AGENT-tagged human replies for 7 days.
// Instagram shares them: they are meta's.
const (
	Window           = meta.Window
	HumanAgentWindow = meta.HumanAgentWindow
	TagHumanAgent    = meta.TagHumanAgent
)

var _ adapters.Windowed = (*Adapter)(nil)

// CheckWindow applies Messenger's 24-hour rule before a send; a stored
// one-time-notification token opens the window.
func (a *Adapter) CheckWindow(since time.Duration, known bool, r *normalize.Reply, otn bool) error {
	return sendAPI.CheckWindow(since, known, r, otn)
}
