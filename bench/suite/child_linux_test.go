package suite

import (
	"bufio"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A child of a bench killed with SIGKILL (no cleanup runs) ends too.
func TestStartChildDiesWithParent(t *testing.T) {
	parent := helperCmd("parent")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Process.Kill(); parent.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's pid: %v", err)
	}
	pid, err := strconv.Atoi(line[:len(line)-1])
	if err != nil {
		t.Fatalf("child pid %q: %v", line, err)
	}
	// A pidfd becomes readable when its process ends: no polling of /proc.
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatalf("pidfd_open(%d): %v", pid, err)
	}
	defer unix.Close(fd)
	t.Cleanup(func() { unix.Kill(pid, unix.SIGKILL) })

	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	parent.Wait()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int((10 * time.Second).Milliseconds()))
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if n == 0 {
		t.Fatalf("the child (pid %d) still runs 10 s after its parent was killed", pid)
	}
}
