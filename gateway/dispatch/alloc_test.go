//go:build !race

package dispatch

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestExcludedSuccessAllocatesNothing: gobreaker asks excluded of every
// successful send too; answering it must not allocate.
func TestExcludedSuccessAllocatesNothing(t *testing.T) {
	if excluded(nil) {
		t.Fatal("a success excluded from the breaker's counts")
	}
	if n := testing.AllocsPerRun(100, func() { excluded(nil) }); n != 0 {
		t.Fatalf("excluded(nil) allocates %.0f times, want 0", n)
	}
}

// TestBreakerLookupAllocatesNothing: every send looks its breaker up; once
// made, finding it allocates nothing (a concatenated key allocated each
// time), and each (connection, bot) has its own.
func TestBreakerLookupAllocatesNothing(t *testing.T) {
	d := &Dispatcher{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	d.breakers = make(map[breakerKey]*breaker)
	conn, bot := strings.Clone("fb"), strings.Clone("106123456789012")
	b := d.breakerFor(conn, bot)
	if d.breakerFor("fb", "106123456789012") != b || d.breakerFor("fb", "2") == b || d.breakerFor("ig", "106123456789012") == b {
		t.Fatal("breakers are not one per (connection, bot)")
	}
	if n := testing.AllocsPerRun(100, func() { d.breakerFor(conn, bot) }); n != 0 {
		t.Fatalf("finding a breaker allocates %.0f times, want 0", n)
	}
}
