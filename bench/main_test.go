package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/bench/report"
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
		{[]string{"compare", "one"}, 2, "usage: bench compare A B"},
		{[]string{"compare", "/nonexistent/a", "/nonexistent/b"}, 1, "no such file"},
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

// TestCompare: `bench compare A B` prints two saved runs side by side and
// names what makes them different experiments.
func TestCompare(t *testing.T) {
	dirs := [2]string{t.TempDir(), t.TempDir()}
	for i, d := range dirs {
		r := &report.Results{About: report.About{Schema: report.SchemaVersion, Tool: "switchboard-bench", Mode: "binary",
			Mix: "messenger:text=100", Load: report.LoadSpec{Loop: "closed", Concurrency: 128}}}
		r.Ratio, r.ThroughputRPS = 0.2*float64(i+1), 1000
		if i == 1 {
			r.Settings = []string{"backend.batch: 64"}
		}
		if _, err := r.WriteJSON(d); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"compare", dirs[0], dirs[1] + "/results.json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"A: " + dirs[0], "1 run(s)", "not alternated", "B ÷ A",
		"note: the two differ in gateway settings: the product's defaults against backend.batch: 64"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	var ratio string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "ratio ") {
			ratio = l
		}
	}
	if !strings.Contains(ratio, "2.000") {
		t.Errorf("ratio line %q: want B ÷ A 2.000", ratio)
	}
}
