package procstat

import (
	"os"
	"runtime"
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
	if after.Sched && (after.Switches == 0 || after.Switches < before.Switches || after.RunDelay < before.RunDelay) {
		t.Fatalf("schedstat switches %d → %d, run delay %s → %s", before.Switches, after.Switches, before.RunDelay, after.RunDelay)
	}
	if after.RSS == 0 || after.HWM < after.RSS || after.RSSAnon+after.RSSFile > after.RSS {
		t.Fatalf("rss %d hwm %d anon %d file %d", after.RSS, after.HWM, after.RSSAnon, after.RSSFile)
	}
	cpu, err := statCPU("/proc/self")
	if err != nil || cpu <= 0 {
		t.Fatalf("stat: %s %v", cpu, err)
	}
	self, err := Self()
	if err != nil || self.CPU < after.CPU/2 || self.Source != "rusage" || self.Sched != after.Sched || self.Sched && self.Switches < after.Switches {
		t.Fatalf("Self %+v %v", self, err)
	}
}

func TestParseHost(t *testing.T) {
	for _, c := range []struct {
		name, stat string
		want       Host
		ok         bool
	}{
		{"with guest columns", "cpu  100 5 50 1000 20 3 2 7 40 0\ncpu0 50 2 25 500 10 1 1 3 20 0\n",
			Host{Busy: 100 + 5 + 50 + 3 + 2, Idle: 1000, IOWait: 20, Steal: 7}, true},
		{"an older kernel's eight", "cpu 1 2 3 4 5 6 7 8\n", Host{Busy: 1 + 2 + 3 + 6 + 7, Idle: 4, IOWait: 5, Steal: 8}, true},
		{"too few", "cpu 1 2 3 4 5 6 7\n", Host{}, false},
		{"not the aggregate line", "cpu0 1 2 3 4 5 6 7 8\n", Host{}, false},
		{"not a number", "cpu 1 2 x 4 5 6 7 8\n", Host{}, false},
	} {
		got, err := parseHost([]byte(c.stat))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestHostShare(t *testing.T) {
	a := Host{Busy: 1000, Idle: 5000, IOWait: 100, Steal: 10}
	b := Host{Busy: 1860, Idle: 5100, IOWait: 120, Steal: 30}
	busy, steal, iowait, ok := a.Share(b)
	if !ok || busy != 0.86 || steal != 0.02 || iowait != 0.02 {
		t.Fatalf("share %v %v %v %v, want 0.86 0.02 0.02", busy, steal, iowait, ok)
	}
	if _, _, _, ok := a.Share(a); ok {
		t.Fatal("no time passed, yet a share")
	}
	h, err := ReadHost()
	if err != nil || h.Busy+h.Idle == 0 {
		t.Fatalf("ReadHost on this Linux: %+v, %v", h, err)
	}
}

// TestParseStatus reads the resident set lines of /proc/PID/status, with
// the anonymous and file-backed parts where the kernel has them.
func TestParseStatus(t *testing.T) {
	for _, c := range []struct {
		name, status string
		want         Sample
		fails        bool
	}{
		{"linux 4.5+", "Name:\tgw\nVmHWM:\t  480000 kB\nVmRSS:\t  466000 kB\nRssAnon:\t  205000 kB\nRssFile:\t  261000 kB\nRssShmem:\t       0 kB\nThreads:\t9\n",
			Sample{RSS: 466000 << 10, HWM: 480000 << 10, RSSAnon: 205000 << 10, RSSFile: 261000 << 10}, false},
		{"older kernel", "VmHWM:\t 2048 kB\nVmRSS:\t 1024 kB\n", Sample{RSS: 1 << 20, HWM: 2 << 20}, false},
		{"malformed", "VmRSS:\n", Sample{}, true},
		{"not a number", "RssAnon:\t lots kB\n", Sample{}, true},
	} {
		var got Sample
		err := got.parseStatus([]byte(c.status))
		if (err != nil) != c.fails || !c.fails && got != c.want {
			t.Errorf("%s: %+v, %v; want %+v (fails: %v)", c.name, got, err, c.want, c.fails)
		}
	}
}

// TestSchedTo: the growth of the thread sums between two samples, and
// none when a sample lacks them or a thread's exit made a sum go down.
func TestSchedTo(t *testing.T) {
	a := Sample{Sched: true, Switches: 1000, RunDelay: 5 * time.Millisecond}
	for _, c := range []struct {
		name     string
		a, b     Sample
		switches uint64
		delay    time.Duration
		ok       bool
	}{
		{"grew", a, Sample{Sched: true, Switches: 1250, RunDelay: 8 * time.Millisecond}, 250, 3 * time.Millisecond, true},
		{"unchanged", a, a, 0, 0, true},
		{"switches went down", a, Sample{Sched: true, Switches: 900, RunDelay: 9 * time.Millisecond}, 0, 0, false},
		{"delay went down", a, Sample{Sched: true, Switches: 1100, RunDelay: 4 * time.Millisecond}, 0, 0, false},
		{"end without schedstat", a, Sample{Switches: 2000, RunDelay: time.Second}, 0, 0, false},
		{"start without schedstat", Sample{}, a, 0, 0, false},
	} {
		switches, delay, ok := c.a.SchedTo(c.b)
		if switches != c.switches || delay != c.delay || ok != c.ok {
			t.Errorf("%s: %d, %v, %v; want %d, %v, %v", c.name, switches, delay, ok, c.switches, c.delay, c.ok)
		}
	}
}

// TestFSType names the filesystem of a temp dir and of /dev/shm (tmpfs
// wherever it exists), and refuses a path that is not there.
func TestFSType(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	if fs, err := FSType(t.TempDir()); err != nil || fs == "" {
		t.Fatalf("temp dir: %q %v", fs, err)
	}
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if fs, err := FSType("/dev/shm"); err != nil || fs != "tmpfs" || !InMemory(fs) {
			t.Fatalf("/dev/shm: %q %v", fs, err)
		}
	}
	if _, err := FSType("/no/such/dir"); err == nil {
		t.Fatal("no error for a missing path")
	}
	for fs, want := range map[string]bool{"tmpfs": true, "ramfs": true, "ext4": false, "": false} {
		if InMemory(fs) != want {
			t.Errorf("InMemory(%q) = %v", fs, !want)
		}
	}
}

func TestParseSchedstat(t *testing.T) {
	for _, c := range []struct {
		line string
		want schedTotals
		ok   bool
	}{
		{"1500000 250000 42\n", schedTotals{cpu: 1500 * time.Microsecond, delay: 250 * time.Microsecond, switches: 42}, true},
		{"0 0 0", schedTotals{}, true},
		{"1500000 250000", schedTotals{}, false},
		{"1500000 x 42", schedTotals{}, false},
		{"", schedTotals{}, false},
	} {
		got, ok := parseSchedstat([]byte(c.line))
		if ok != c.ok || got != c.want {
			t.Errorf("%q: %+v %v, want %+v %v", c.line, got, ok, c.want, c.ok)
		}
	}
}
