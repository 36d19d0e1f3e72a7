package suite

import (
	"os/exec"
	"runtime"
	"syscall"
)

// startChild starts cmd so that the kernel sends it SIGTERM when this
// process dies, however it dies: SIGKILL, SIGPIPE from a closed stdout
// (`go run ./bench | head`), a crash. Without it such a run leaves the
// gateway or a yardstick running, holding its port, its CPU and its store.
//
// The kernel ties the signal to the thread that forks, not the process:
// the fork happens on a thread locked for the call, and Go ends a thread
// only when a goroutine locked to it exits, which nothing here does.
func startChild(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}
