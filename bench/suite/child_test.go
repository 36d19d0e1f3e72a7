package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// helperRoleEnv makes this test binary play a subprocess for the tests
// below (TestChildHelper does the playing).
const helperRoleEnv = "SUITE_TEST_HELPER_ROLE"

// TestChildHelper is not a test: run by the tests below as a subprocess.
//   - "server": prints a banner, then exits with status 2 and a last log
//     line once its stdin closes.
//   - "silent": exits with status 3 before any banner.
//   - "gateway": a stand-in gateway answering 200 to everything, which
//     crashes (status 3) on its first webhook.
//   - "parent": a bench that starts a "sleeper" with startChild, prints
//     its pid and waits to be killed; "sleeper" waits to be killed.
func TestChildHelper(t *testing.T) {
	switch os.Getenv(helperRoleEnv) {
	case "parent":
		child := helperCmd("sleeper")
		if err := startChild(child); err != nil {
			t.Fatal(err)
		}
		fmt.Println(child.Process.Pid)
		select {}
	case "sleeper":
		select {}
	case "server":
		fmt.Println("helper listening on 127.0.0.1:1")
		fmt.Fprintln(os.Stderr, "serving")
		io.Copy(io.Discard, os.Stdin)
		fmt.Fprintln(os.Stderr, "panic: boom")
		os.Exit(2)
	case "silent":
		fmt.Fprintln(os.Stderr, "cannot listen")
		os.Exit(3)
	case "gateway":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(1)
		}
		fmt.Println("Switchboard listening on " + ln.Addr().String())
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/webhooks/") {
				fmt.Fprintln(os.Stderr, "panic: fake crash on the first webhook")
				os.Exit(3)
			}
		}))
	default:
		t.Skip("a helper process of the child tests")
	}
}

func helperCmd(role string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildHelper$")
	cmd.Env = append(os.Environ(), helperRoleEnv+"="+role)
	return cmd
}

// startHelper starts a "server" helper with its stderr in a log file; its
// stdin, once closed, makes it exit.
func startHelper(t *testing.T) (*child, io.Closer) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "helper.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd := helperCmd("server")
	cmd.Stderr = f
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c, addr, err := startProcess("helper", cmd, log, "helper listening on ", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.stop(5 * time.Second) })
	if addr != "127.0.0.1:1" {
		t.Fatalf("address %q", addr)
	}
	return c, stdin
}

// An exit nobody asked for is reported once, with its status and the end
// of the log.
func TestChildExitReported(t *testing.T) {
	c, stdin := startHelper(t)
	got := make(chan error, 2)
	c.watch(func(err error) { got <- err })
	stdin.Close()
	var err error
	select {
	case err = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the exit was not reported")
	}
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Name != "helper" || !strings.Contains(exit.Err.Error(), "exit status 2") ||
		!strings.Contains(exit.Log, "serving\npanic: boom") {
		t.Fatalf("reported %#v (%v)", err, err)
	}
	if !strings.Contains(err.Error(), "the helper exited during the run (exit status 2)") {
		t.Errorf("message %q", err)
	}
	c.watch(func(err error) { got <- err }) // after the exit: no second report
	if len(got) != 0 {
		t.Fatalf("reported twice: %v", <-got)
	}
}

// An exit stop asked for is not reported.
func TestChildStopNotReported(t *testing.T) {
	c, _ := startHelper(t)
	got := make(chan error, 1)
	c.watch(func(err error) { got <- err })
	c.stop(5 * time.Second)
	<-c.done
	c.watch(func(err error) { got <- err })
	if len(got) != 0 {
		t.Fatalf("a requested stop was reported: %v", <-got)
	}
}

// A child that exits before its banner fails the start with its log.
func TestChildExitsBeforeBanner(t *testing.T) {
	log := filepath.Join(t.TempDir(), "helper.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := helperCmd("silent")
	cmd.Stderr = f
	_, _, err = startProcess("helper", cmd, log, "helper listening on ", 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "the helper did not start (it exited)") || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("error %v", err)
	}
}

// A gateway subprocess that dies mid-run ends the run at once with an
// *ExitError quoting its log, not with a run of connection errors.
func TestRunEndsWhenGatewayExits(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gateway.sh") // takes the gateway's -config and ignores it
	script := "#!/bin/sh\nexec " + os.Args[0] + " -test.run='^TestChildHelper$'\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(helperRoleEnv, "gateway")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	_, err := Run(ctx, Options{GatewayBin: bin, Rate: 200, Duration: 2 * time.Second, Warmup: 100 * time.Millisecond,
		Drain: 5 * time.Second, NoReference: true, Progress: &syncWriter{w: &progress}, Stdout: io.Discard})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Name != "gateway" || !strings.Contains(exit.Log, "fake crash") {
		t.Fatalf("err %v, want the gateway's exit\n%s", err, progress.String())
	}
	if strings.Contains(progress.String(), "drain:") {
		t.Errorf("the run went on to wait for the dead gateway's replies:\n%s", progress.String())
	}
}
