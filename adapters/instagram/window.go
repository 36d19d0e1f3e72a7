package instagram

import (
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// CheckWindow applies Instagram's messaging window, Messenger's own
// (meta.Window, meta.HumanAgentWindow): 24 hours after the person's last
// action, HUMAN_AGENT replies for 7 days. Instagram has no one-time
// notifications, so otn opens nothing.
func (a *Adapter) CheckWindow(since time.Duration, known bool, r *normalize.Reply, otn bool) error {
	return sendAPI.CheckWindow(since, known, r, otn)
}
