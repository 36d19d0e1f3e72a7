package main

import (
	"fmt"

	"github.com/switchboard-gw/switchboard/adapters/meta"
	"github.com/switchboard-gw/switchboard/config"
)

// demoBody is a Messenger text webhook for the embedded default's demo page.
const demoBody = `{"object":"page","entry":[{"id":"100000000000001","time":1718000000123,"messaging":[{"sender":{"id":"2000000000000002"},"recipient":{"id":"100000000000001"},"timestamp":1718000000001,"message":{"mid":"m_demo_1","text":"hello"}}]}]}`

// demoCurl is a ready-to-run signed webhook for the embedded default. The
// demo app secret is public (it is in the embedded config), so printing a
// signature made with it reveals nothing.
func demoCurl(base string) string {
	cfg, err := config.Default()
	if err != nil || len(cfg.Connections) == 0 || cfg.Connections[0].Messenger == nil {
		return "(no demo connection)"
	}
	s := &meta.Signer{Secret: []byte(cfg.Connections[0].Messenger.AppSecret)}
	sig := s.Sign(nil, []byte(demoBody))
	return fmt.Sprintf("curl -s %s/webhooks/messenger/%s -H 'Content-Type: application/json' -H 'X-Hub-Signature-256: %s' -d '%s'",
		base, cfg.Connections[0].Name, sig, demoBody)
}
