package load

import (
	"syscall"
	"time"
)

// kernelSleep sleeps about d in nanosleep(2), outside the runtime's
// timers; a signal may end it early (the caller loops).
func kernelSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
