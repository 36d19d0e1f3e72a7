package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/bench/suite"
)

func TestFlagErrors(t *testing.T) {
	t.Setenv(suite.ReferenceConfigEnv, "")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"-rate", "10", "-concurrency", "2"}, 1, "not both"},
		{[]string{"-mix", "messenger:text=1,telegraph:morse=2"}, 1, "unknown channel"},
		{[]string{"-sweep", "fast"}, 1, "-sweep"},
		{[]string{"-mode", "docker"}, 1, "-mode"},
		{[]string{"-runs", "0"}, 1, "-runs 0"},
		{[]string{"-runs", "2", "-cpuprofile", "/dev/null"}, 1, "drop -runs"},
		{[]string{"-versus", "/bin/false", "-mode", "inprocess"}, 1, "binary mode"},
		{[]string{"reference", "-listen", "127.0.0.1:0"}, 1, "SWITCHBOARD_BENCH_REFERENCE_CONFIG"},
		{[]string{"ceiling", "-nope"}, 2, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
}

// TestInterrupted: a run whose context ends (SIGINT or SIGTERM in main)
// says so and exits 130, not with the first error the cancellation caused.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"-quick", "-mode", "inprocess"}, &out, &errb); code != exitInterrupted || !strings.Contains(errb.String(), "bench: interrupted") {
		t.Fatalf("exit %d, stderr %q; want %d and the interruption said", code, errb.String(), exitInterrupted)
	}
}
