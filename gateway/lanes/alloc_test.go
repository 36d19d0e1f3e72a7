//go:build !race

package lanes

import (
	"context"
	"fmt"
	"testing"
)

// TestPushAllocatesNothing: once warm, an item pushed to a lane that was
// empty, and handled, costs no allocation: the lane comes from the free
// ones, with its items array, and the ready FIFO reuses its array. (The
// previous build allocated a lane, its items array and a new ready
// slice: 3 allocations per item.)
func TestPushAllocatesNothing(t *testing.T) {
	handled := make(chan struct{}, 1)
	q := New(2, func(context.Context, string, int, int) Result {
		handled <- struct{}{}
		return Done
	})
	defer q.Close(context.Background())
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprint("conversation", i)
	}
	i := 0
	cycle := func() {
		q.Push(keys[i%len(keys)], i)
		<-handled
		i++
	}
	for range 1000 {
		cycle()
	}
	if n := testing.AllocsPerRun(2000, cycle); n > 0.05 {
		t.Errorf("a push and its handling allocate %.2f times, want 0", n)
	}
}
