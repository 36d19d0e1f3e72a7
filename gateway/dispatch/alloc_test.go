//go:build !race

package dispatch

import "testing"

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
