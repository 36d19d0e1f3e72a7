package suite

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ExitError ends a run whose gateway or yardstick subprocess exited
// while the run still needed it (a crash, the OOM killer, a kill -9): the
// run stops at once with this, instead of counting every later webhook
// as a connection error and writing results of a dead server.
type ExitError struct {
	Name string // "gateway", "ceiling", "reference"
	Err  error  // from Wait: "exit status 2", "signal: killed"
	// Log is the end of the subprocess's log (its stderr), when it has
	// one of its own; the run's temp dir, the log with it, is removed.
	Log string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("bench: the %s exited during the run (%v)", e.Name, e.Err)
	if e.Log != "" {
		msg += "; the end of its log:\n" + e.Log
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// child is a subprocess of the run. It is waited for from the start, so
// its exit is known when it happens; after watch, an exit that stop did
// not ask for is reported once.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string        // the file its stderr goes to; "" when it shares ours
	done chan struct{} // closed once it has exited

	mu       sync.Mutex
	err      error // from Wait, once done
	exited   bool
	stopping bool
	reported bool
	onExit   func(error)
}

// startProcess starts cmd (tied to this process, see startChild) and
// reads its stdout until the line starting with banner, whose rest is
// the address it listens on. Its stdout must be unset: it is a pipe of
// our own, so Wait, which runs from the start, cannot close it under
// the reader.
func startProcess(name string, cmd *exec.Cmd, log, banner string, timeout time.Duration) (*child, string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout = w
	err = startChild(cmd)
	w.Close() // the child has its copy: EOF comes when it exits
	if err != nil {
		r.Close()
		return nil, "", fmt.Errorf("bench: starting the %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go c.wait()
	addr, err := readAddr(r, banner, timeout) // closes r at EOF
	if err != nil {
		c.stop(5 * time.Second)
		err = fmt.Errorf("bench: the %s did not start (%w)", name, err)
		if t := c.logTail(); t != "" {
			err = fmt.Errorf("%w; the end of its log:\n%s", err, t)
		}
		return nil, "", err
	}
	return c, addr, nil
}

// wait reports the exit before closing done, so whoever waits on done
// sees any report made.
func (c *child) wait() {
	err := c.cmd.Wait()
	c.mu.Lock()
	c.err, c.exited = err, true
	c.mu.Unlock()
	c.report()
	close(c.done)
}

// watch calls f with an *ExitError if the child exits (or has exited)
// without stop asking it to.
func (c *child) watch(f func(error)) {
	c.mu.Lock()
	c.onExit = f
	c.mu.Unlock()
	c.report()
}

func (c *child) report() {
	c.mu.Lock()
	f := c.onExit
	fire := f != nil && c.exited && !c.stopping && !c.reported
	c.reported = c.reported || fire
	err := c.err
	c.mu.Unlock()
	if fire {
		if err == nil {
			err = errors.New("exit status 0")
		}
		f(&ExitError{Name: c.name, Err: err, Log: c.logTail()})
	}
}

// stop sends SIGTERM and waits up to grace for the child to exit, then
// kills it.
func (c *child) stop(grace time.Duration) {
	c.mu.Lock()
	c.stopping = true
	c.mu.Unlock()
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// logTailLines is how much of a dead child's log an error quotes.
const logTailLines = 15

// logTail is the last lines of the child's log, "" when it has no log of
// its own or wrote nothing.
func (c *child) logTail() string {
	if c.log == "" {
		return ""
	}
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > logTailLines {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n")
}
