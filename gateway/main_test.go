package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/adapters/meta"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-gw/switchboard/normalize"
)

// TestMain lets the test binary act as the switchboard program, so the
// crash test can run and SIGKILL a real process.
func TestMain(m *testing.M) {
	if os.Getenv("SWITCHBOARD_TEST_CHILD") == "1" {
		args := strings.Split(os.Getenv("SWITCHBOARD_TEST_ARGS"), "\x1f")
		os.Exit(run(args, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a switchboard process started from the test binary.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SWITCHBOARD_TEST_CHILD=1", "SWITCHBOARD_TEST_ARGS="+strings.Join(args, "\x1f"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("child logs:\n%s", logs.String())
		}
	})
	// The banner's first line names the address.
	sc := bufio.NewScanner(out)
	addr := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Switchboard listening on "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("child exited before listening:\n%s", logs.String())
		}
		return &child{cmd: cmd, addr: a}
	case <-time.After(20 * time.Second):
		t.Fatalf("child did not start:\n%s", logs.String())
	}
	return nil
}

// flakyBackend records acknowledged events and can be switched down.
type flakyBackend struct {
	mu     sync.Mutex
	down   bool
	events []normalize.Event
	url    string
}

func newFlakyBackend(t *testing.T) *flakyBackend {
	b := &flakyBackend{down: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.url = "http://" + ln.Addr().String() + "/events"
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.down {
			ctx.SetStatusCode(503)
			return
		}
		var ev normalize.Event
		if err := json.Unmarshal(ctx.PostBody(), &ev); err != nil {
			ctx.SetStatusCode(400)
			return
		}
		b.events = append(b.events, ev)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return b
}

func (b *flakyBackend) snapshot() []normalize.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]normalize.Event(nil), b.events...)
}

// TestSIGKILLLosesNothing acknowledges webhooks while the backend is down,
// kills the process with SIGKILL, restarts it, brings the backend up, and
// checks every acknowledged event arrives, in order, once.
func TestSIGKILLLosesNothing(t *testing.T) {
	be := newFlakyBackend(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
backend: {url: %q, secret: s3cret, retry_min: 10ms, retry_max: 100ms}
store: {path: %q}
log: {level: debug}
connections:
  - name: fb
    channel: messenger
    app_secret: app-secret
    verify_token: vt
    pages: [{id: "42", access_token: tok}]
`, be.url, filepath.Join(dir, "data"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startChild(t, "-config", cfgPath)
	signer := meta.Signer{Secret: []byte("app-secret")}
	const users, per = 5, 20
	for i := range per {
		for u := range users {
			body := fmt.Sprintf(`{"object":"page","entry":[{"id":"42","time":1,"messaging":[{"sender":{"id":"u%d"},"recipient":{"id":"42"},"timestamp":%d,"message":{"mid":"m_%d_%d","text":"x"}}]}]}`, u, 1718000000000+i, u, i)
			req, _ := http.NewRequest("POST", "http://"+c.addr+"/webhooks/messenger/fb", strings.NewReader(body))
			req.Header.Set("X-Hub-Signature-256", string(signer.Sign(nil, []byte(body))))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("webhook: %d", resp.StatusCode)
			}
		}
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
	if n := len(be.snapshot()); n != 0 {
		t.Fatalf("backend acknowledged %d events while down", n)
	}
	be.mu.Lock()
	be.down = false
	be.mu.Unlock()
	startChild(t, "-config", cfgPath)
	deadline := time.Now().Add(30 * time.Second)
	var events []normalize.Event
	for time.Now().Before(deadline) {
		if events = be.snapshot(); len(events) >= users*per {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(events) != users*per {
		t.Fatalf("after restart the backend got %d events, want %d", len(events), users*per)
	}
	next := map[string]int{}
	for _, ev := range events {
		var u, i int
		fmt.Sscanf(ev.NativeID, "m_%d_%d", &u, &i)
		if i != next[ev.ChannelID] {
			t.Fatalf("path %s: got message %d, want %d", ev.ChannelID, i, next[ev.ChannelID])
		}
		next[ev.ChannelID] = i + 1
	}
}

// TestNormalizeCommand runs the offline tool on the embedded default.
func TestNormalizeCommand(t *testing.T) {
	body := demoBody(time.Now())
	sig := string((&meta.Signer{Secret: []byte("demo-app-secret")}).Sign(nil, []byte(body)))
	var out, errb bytes.Buffer
	code := run([]string{"normalize", "-connection", "demo", "-H", "X-Hub-Signature-256: " + sig}, strings.NewReader(body), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one event line, got %q", out.String())
	}
	var ev normalize.Event
	if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != normalize.TypeText || ev.Text != "hello" || ev.ResponsePath != "100000000000001/c/2000000000000002" {
		t.Fatalf("event %+v", ev)
	}

	out.Reset()
	errb.Reset()
	code = run([]string{"normalize", "-connection", "demo", "-H", "X-Hub-Signature-256: sha256=00"}, strings.NewReader(body), &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "bad_signature") || out.Len() != 0 {
		t.Fatalf("bad signature: exit %d, stderr %q, stdout %q", code, errb.String(), out.String())
	}
	if code := run([]string{"normalize"}, strings.NewReader(""), &out, &errb); code != 2 {
		t.Fatalf("missing -connection: exit %d, want 2", code)
	}
	// Zero events is still accepted.
	empty := `{"object":"page","entry":[]}`
	sig = string((&meta.Signer{Secret: []byte("demo-app-secret")}).Sign(nil, []byte(empty)))
	out.Reset()
	if code := run([]string{"normalize", "-connection", "demo", "-H", "x-hub-signature-256: " + sig}, strings.NewReader(empty), &out, &errb); code != 0 || out.Len() != 0 {
		t.Fatalf("empty batch: exit %d, out %q", code, out.String())
	}
}
