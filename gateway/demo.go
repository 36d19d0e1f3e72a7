package main

import (
	"fmt"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/config"
)

// demoBody is a Messenger text webhook for the embedded default's demo
// page, stamped now so the reply is inside Messenger's 24-hour window.
// Sending it twice shows deduplication: the second answer counts a
// duplicate and the echo bot hears it once.
func demoBody(now time.Time) string {
	ms := now.UnixMilli()
	return fmt.Sprintf(`{"object":"page","entry":[{"id":"100000000000001","time":%d,"messaging":[{"sender":{"id":"2000000000000002"},"recipient":{"id":"100000000000001"},"timestamp":%d,"message":{"mid":"m_demo_%d","text":"hello"}}]}]}`, ms, ms, ms)
}

// demoCurl is a ready-to-run signed webhook for the embedded default. The
// demo app secret is public (it is in the embedded config), so printing a
// signature made with it reveals nothing.
func demoCurl(base string, now time.Time) string {
	cfg, err := config.Default()
	if err != nil || len(cfg.Connections) == 0 || cfg.Connections[0].Messenger == nil {
		return "(no demo connection)"
	}
	s := &meta.Signer{Secret: []byte(cfg.Connections[0].Messenger.AppSecret)}
	body := demoBody(now)
	sig := s.Sign(nil, []byte(body))
	return fmt.Sprintf("curl -s %s/webhooks/messenger/%s -H 'Content-Type: application/json' -H 'X-Hub-Signature-256: %s' -d '%s'",
		base, cfg.Connections[0].Name, sig, body)
}
