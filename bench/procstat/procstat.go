// Package procstat reads a process's CPU time and memory from Linux's
// /proc, for the gateway's CPU per event and RSS figures.
//
// CPU is the sum of the on-CPU time of every thread in
// /proc/PID/task/*/schedstat (nanoseconds) when the kernel provides it,
// else utime+stime from /proc/PID/stat (clock ticks of 10 ms, USER_HZ=100
// on every Linux the suite targets). schedstat misses threads that have
// exited; Go rarely retires threads, and Read reports which source it
// used.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Sample is one reading.
type Sample struct {
	At  time.Time
	CPU time.Duration // user + system, all threads
	RSS uint64        // resident set, bytes
	// HWM is the peak resident set since the process started (VmHWM).
	HWM uint64
	// RSSAnon and RSSFile are the parts of RSS that are anonymous memory
	// (heap, stacks) and mapped files (RssAnon, RssFile; 0 before Linux
	// 4.5). The gateway's mapped file is mostly its store, which bbolt maps
	// whole, so a growing store raises RSS through RSSFile alone, and the
	// kernel may drop those clean pages under pressure: RSSAnon is what a
	// leak would raise.
	RSSAnon, RSSFile uint64
	// Source says how CPU was read: "schedstat", "stat" or "rusage" (and
	// "metrics" for a sample the bench built from a process's /metrics).
	Source string
	// When Sched (the kernel has schedstat), summed over the threads:
	// Switches is how many times one was switched onto a CPU, and
	// RunDelay how long they were runnable but waiting for one.
	Sched    bool
	Switches uint64
	RunDelay time.Duration
}

// SchedTo is what the threads' schedstat sums grew by from a to b: the
// switches onto a CPU and the time spent waiting for one. ok is false when
// either sample lacks them or either sum went down: the sums cover the
// threads alive at each reading, so a thread that exited in between takes
// its share with it, and the difference then says nothing.
func (a Sample) SchedTo(b Sample) (switches uint64, runDelay time.Duration, ok bool) {
	if !a.Sched || !b.Sched || b.Switches < a.Switches || b.RunDelay < a.RunDelay {
		return 0, 0, false
	}
	return b.Switches - a.Switches, b.RunDelay - a.RunDelay, true
}

// userHZ is the unit of utime and stime in /proc/PID/stat.
const userHZ = 100

// Read samples process pid.
func Read(pid int) (Sample, error) {
	s := Sample{At: time.Now()}
	dir := "/proc/" + strconv.Itoa(pid)
	if st, ok := schedstat(dir); ok {
		s.CPU, s.Source = st.cpu, "schedstat"
		s.Sched, s.Switches, s.RunDelay = true, st.switches, st.delay
	} else {
		cpu, err := statCPU(dir)
		if err != nil {
			return s, err
		}
		s.CPU, s.Source = cpu, "stat"
	}
	err := s.memory(dir)
	return s, err
}

// Self samples the calling process: CPU from getrusage (microseconds).
func Self() (Sample, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Sample{}, err
	}
	s := Sample{
		At:     time.Now(),
		CPU:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		Source: "rusage",
	}
	if st, ok := schedstat("/proc/self"); ok {
		s.Sched, s.Switches, s.RunDelay = true, st.switches, st.delay
	}
	_ = s.memory("/proc/self")
	return s, nil
}

// schedTotals are /proc/PID/task/*/schedstat's three fields summed over
// the threads: time on a CPU, time runnable waiting for one (ns), and
// times switched onto one.
type schedTotals struct {
	cpu, delay time.Duration
	switches   uint64
}

func schedstat(dir string) (schedTotals, bool) {
	var t schedTotals
	tasks, err := filepath.Glob(dir + "/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return t, false
	}
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the thread exited between Glob and here
		}
		one, ok := parseSchedstat(b)
		if !ok {
			return schedTotals{}, false
		}
		t.cpu += one.cpu
		t.delay += one.delay
		t.switches += one.switches
	}
	return t, true
}

// parseSchedstat reads one thread's schedstat line: "cpu_ns delay_ns
// timeslices".
func parseSchedstat(b []byte) (schedTotals, bool) {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return schedTotals{}, false
	}
	cpu, err1 := strconv.ParseInt(string(f[0]), 10, 64)
	delay, err2 := strconv.ParseInt(string(f[1]), 10, 64)
	n, err3 := strconv.ParseUint(string(f[2]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return schedTotals{}, false
	}
	return schedTotals{cpu: time.Duration(cpu), delay: time.Duration(delay), switches: n}, true
}

func statCPU(dir string) (time.Duration, error) {
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'. utime and stime are fields 14 and 15 (1-based), so the
	// 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("procstat: unreadable stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, errors.New("procstat: short stat")
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("procstat: bad utime/stime")
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}

// memory reads the resident set figures of dir's status file into s.
func (s *Sample) memory(dir string) error {
	b, err := os.ReadFile(dir + "/status")
	if err != nil {
		return err
	}
	return s.parseStatus(b)
}

// parseStatus reads VmRSS, VmHWM, RssAnon and RssFile from the text of
// /proc/PID/status; a line it needs that is malformed fails it, and
// fields it finds set nothing else.
func (s *Sample) parseStatus(b []byte) error {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		var dst *uint64
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			dst = &s.RSS
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			dst = &s.HWM
		case bytes.HasPrefix(line, []byte("RssAnon:")):
			dst = &s.RSSAnon
		case bytes.HasPrefix(line, []byte("RssFile:")):
			dst = &s.RSSFile
		default:
			continue
		}
		n, err := kb(line)
		if err != nil {
			return err
		}
		*dst = n
	}
	return nil
}

func kb(line []byte) (uint64, error) {
	f := bytes.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("procstat: bad line %q", line)
	}
	n, err := strconv.ParseUint(string(f[1]), 10, 64)
	return n * 1024, err
}

// InMemory reports whether fs (an FSType name) keeps its files in memory
// only: an fsync there writes nothing to a disk.
func InMemory(fs string) bool { return fs == "tmpfs" || fs == "ramfs" }
