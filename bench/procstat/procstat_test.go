package procstat

import (
	"os"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	// Spin until getrusage says 50 ms of CPU went by (wall time is no
	// measure on a busy machine), then compare.
	before, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	r0, _ := Self()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if r, _ := Self(); r.CPU-r0.CPU >= 50*time.Millisecond {
			break
		}
	}
	r1, _ := Self()
	after, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d, want := after.CPU-before.CPU, r1.CPU-r0.CPU; d < want/2 || d > 2*want+20*time.Millisecond {
		t.Fatalf("%s of CPU by getrusage read as %s (%s)", want, d, after.Source)
	}
	if after.RSS == 0 || after.HWM < after.RSS {
		t.Fatalf("rss %d hwm %d", after.RSS, after.HWM)
	}
	cpu, err := statCPU("/proc/self")
	if err != nil || cpu <= 0 {
		t.Fatalf("stat: %s %v", cpu, err)
	}
	self, err := Self()
	if err != nil || self.CPU < after.CPU/2 || self.Source != "rusage" {
		t.Fatalf("Self %+v %v", self, err)
	}
}
