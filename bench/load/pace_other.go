//go:build !linux

package load

import "time"

// kernelSleep falls back to the runtime's timer where nanosleep(2) is not
// wired: coarser, see waitUntil.
func kernelSleep(d time.Duration) { time.Sleep(d) }
