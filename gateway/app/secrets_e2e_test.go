package app

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/normalize"
)

// syncBuffer is a bytes.Buffer the gateway's goroutines may log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsNeverPrintSecrets drives every path that logs — refused
// webhooks and handshakes, a backend that fails, a channel answering a
// token error (the loud configuration alarm), a refused API token — with
// debug logging on, and checks no secret of the config reaches the log.
func TestLogsNeverPrintSecrets(t *testing.T) {
	graph := startGraph(t)
	rec := newRecorder(t)
	rec.reply = func(ev normalize.Event) []normalize.Reply { return []normalize.Reply{{Text: "echo"}} }
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g := startGatewayLog(t, testConfig(t, rec.url, graph.URL()), log)

	body := textWebhook(testPage, "u1", "m1", "hi", time.Now().UnixMilli())
	post(t, g.base+"/webhooks/messenger/fb", []byte(body), map[string]string{"X-Hub-Signature-256": mustSign("wrong", body)})
	httpGet(t, g.base+"/webhooks/messenger/fb?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
	post(t, g.base+"/v1/messages", []byte(`{}`), map[string]string{"Authorization": "Bearer not-" + testAPIToken})

	rec.setDown(true) // the backend refuses: warnings with the event
	g.webhook(t, body)
	rec.waitTries(2)
	// The Graph API answers a token error: the configuration alarm.
	graph.FailNext(1, 400, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"x"}}`)
	rec.setDown(false)
	rec.waitFor(1)
	waitCount(t, "the configuration alarm", func() bool { return strings.Contains(logs.String(), "CHANNEL CONFIGURATION ERROR") })

	out := logs.String()
	for _, secret := range []string{testAppSecret, testVerifyToken, testBackendKey, testAPIToken, "page-token-1", "page-token-2"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
	for _, want := range []string{"webhook refused", "handshake refused", "backend did not take event"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q: the test did not exercise that path", want)
		}
	}
}
