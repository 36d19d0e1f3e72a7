package procstat

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
)

// Host is the whole machine's CPU time from /proc/stat's first line: clock
// ticks summed over every CPU since boot.
type Host struct {
	At time.Time
	// Busy is user, nice, system, irq and softirq time (guest time is
	// counted in user and nice already); Idle and IOWait are the idle
	// time without and with I/O outstanding; Steal is time the
	// hypervisor gave this VM's CPUs to something else.
	Busy, Idle, IOWait, Steal uint64
}

// ReadHost samples /proc/stat.
func ReadHost() (Host, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Host{}, err
	}
	h, err := parseHost(b)
	h.At = time.Now()
	return h, err
}

var errHostStat = errors.New("procstat: /proc/stat has no cpu line of at least 8 counters")

// parseHost reads the aggregate "cpu" line of /proc/stat: user nice
// system idle iowait irq softirq steal [guest guest_nice].
func parseHost(b []byte) (Host, error) {
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return Host{}, errHostStat
	}
	var v [8]uint64
	for i := range v {
		n, err := strconv.ParseUint(string(f[i+1]), 10, 64)
		if err != nil {
			return Host{}, errHostStat
		}
		v[i] = n
	}
	return Host{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Idle: v[3], IOWait: v[4], Steal: v[7]}, nil
}

// Share is how the machine's CPU time between a and b divided: the busy,
// steal and iowait fractions of it (each 0 to 1); ok is false when no
// time passed.
func (a Host) Share(b Host) (busy, steal, iowait float64, ok bool) {
	d := func(x, y uint64) float64 { return float64(y - min(x, y)) }
	db, di, dw, ds := d(a.Busy, b.Busy), d(a.Idle, b.Idle), d(a.IOWait, b.IOWait), d(a.Steal, b.Steal)
	total := db + di + dw + ds
	if total == 0 {
		return 0, 0, 0, false
	}
	return db / total, ds / total, dw / total, true
}
