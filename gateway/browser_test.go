package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/web"
)

// browserTestEnv set to "required" (as .ci/run does) makes a missing
// Chromium or npm install fail TestBrowserWidget instead of skipping it.
const browserTestEnv = "SWITCHBOARD_BROWSER_TEST"

// TestBrowserWidget runs the widget in real headless Chromium against the
// real switchboard program (this test binary as a child, on a loopback
// port): chat anonymously on the demo page, identify with a valid hash,
// see the history from a second browser context, log out and see an empty
// chat. The scenario is gateway/webchat/e2e/scenario.mjs (playwright-core
// driving Debian's chromium); screenshots go to
// gateway/webchat/e2e/artifacts (or $SWITCHBOARD_ARTIFACTS).
func TestBrowserWidget(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dir, err := filepath.Abs(filepath.Join("webchat", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	node, nodeErr := exec.LookPath("node")
	var missing string
	switch {
	case nodeErr != nil:
		missing = "node is not installed"
	case !exists(chromium):
		missing = chromium + " is missing (apt-get install -y chromium)"
	case !exists(filepath.Join(dir, "node_modules", "playwright-core")):
		missing = "playwright-core is not installed (cd gateway/webchat/e2e && npm ci)"
	}
	if missing != "" {
		if os.Getenv(browserTestEnv) == "required" {
			t.Fatalf("browser test required (%s=required) but %s", browserTestEnv, missing)
		}
		t.Skipf("browser test skipped: %s; set %s=required to make this fail", missing, browserTestEnv)
	}
	artifacts := os.Getenv("SWITCHBOARD_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(dir, "artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	const secret = "browser-test-identity-secret"
	cfg := filepath.Join(t.TempDir(), "switchboard.yaml")
	yaml := `listen: "127.0.0.1:0"
api_tokens: ["browser-test-token"]
backend: {url: builtin:echo}
store: {path: "` + filepath.Join(t.TempDir(), "data") + `"}
identity: {key: "browser-test-identity-key"}
log: {level: debug}
connections:
  - {name: site, channel: web, bot_id: demo-site, identity_secret: "` + secret + `"}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "-config", cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "scenario.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"BASE_URL=http://"+c.addr,
		"USER_ID=alice",
		"API_TOKEN=browser-test-token",
		"USER_HASH="+web.UserHash([]byte(secret), "alice"),
		"ARTIFACTS="+artifacts,
		"CHROMIUM="+chromium,
	)
	out, err := cmd.CombinedOutput()
	t.Logf("scenario output:\n%s", out)
	if err != nil {
		t.Fatalf("browser scenario failed: %v (screenshots in %s)", err, artifacts)
	}
	for _, f := range []string{"01-anonymous.png", "02-identified.png", "03-second-device-history.png", "04-logged-out-empty.png"} {
		if !exists(filepath.Join(artifacts, f)) {
			t.Errorf("screenshot %s missing", f)
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
