//go:build !linux

package suite

import "os/exec"

// startChild starts cmd. Only Linux can tie a child's life to this
// process (see child_linux.go); elsewhere a bench killed without its
// cleanup leaves the child running.
func startChild(cmd *exec.Cmd) error { return cmd.Start() }
