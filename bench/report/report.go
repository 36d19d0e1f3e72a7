// Package report holds the bench suite's results: the results.json schema
// other tools read, the table printed at the end of a run, and the chart
// of latency against load.
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/switchboard-gw/switchboard/bench/latency"
	"github.com/switchboard-gw/switchboard/bench/ledger"
)

// SchemaVersion is bumped when a key of results.json changes meaning or
// goes away (keys are only ever added otherwise).
const SchemaVersion = 1

// Results is results.json. The top-level figures describe the run's main
// phase against the gateway, next to the ceiling driven the same way in
// the same run; Gateway and Ceiling hold their details, Sweep the other
// load points, Targets the targets as measured.
type Results struct {
	About

	Headline

	Gateway Phase `json:"gateway"`
	// Ceiling is the main phase's two ceiling windows together
	// (MergeWindows): the one before the gateway's and the one after.
	Ceiling Phase `json:"ceiling"`
	// CeilingWindowsRPS are the ceiling's rates in those two windows,
	// before and after (their difference: Drift).
	CeilingWindowsRPS []float64 `json:"ceiling_windows_rps,omitempty"`
	// Reference is the reference pipeline (bench/reference: the bare job,
	// no store) under the main phase's load, when the run had one.
	Reference *Phase `json:"reference,omitempty"`
	// Ratios: gateway figure / ceiling figure, for the main phase; with a
	// Reference, also reference_events_per_sec (its round trips / the
	// ceiling's webhooks), events_per_sec_vs_reference and
	// cpu_per_event_vs_reference (gateway / reference).
	Ratios map[string]float64 `json:"ratios"`
	// Max is the closed-loop capacity probe (its own phases), when one ran.
	Max     *Max     `json:"max,omitempty"`
	Sweep   []Point  `json:"sweep,omitempty"`
	Targets []Target `json:"targets"`
	Notes   []string `json:"notes,omitempty"`
	Elapsed float64  `json:"elapsed_s"`
}

// About says what was run, where and how: the head of results.json for
// one run (Results) and for several (Runs).
type About struct {
	Schema  int       `json:"schema"`
	Tool    string    `json:"tool"`
	Started time.Time `json:"started"`
	Host    Host      `json:"host"`
	// Mode is how the gateway ran: "binary" (a subprocess: its CPU and
	// memory are its own), "inprocess" (inside the bench process: CPU
	// figures include the generator and mocks) or "target" (an already
	// running gateway: no CPU, memory or loss figures).
	Mode   string `json:"mode"`
	Target string `json:"target,omitempty"`
	// StoreFS is the filesystem under the gateway's store when the bench
	// started the gateway ("ext4", "tmpfs", …): on tmpfs a commit's fsync
	// writes nothing to a disk.
	StoreFS string   `json:"store_fs,omitempty"`
	Mix     string   `json:"mix"`
	Load    LoadSpec `json:"load"`
	// Settings are the gateway settings the run changed from the
	// product's defaults (e.g. "backend.batch: 64"); none means defaults.
	Settings []string `json:"settings,omitempty"`
}

// Headline is what results.json leads with, the keys other tools read:
// one run's figures in Results, their medians over several runs in Runs.
type Headline struct {
	// ThroughputRPS: webhooks the gateway answered 2xx per second.
	ThroughputRPS float64 `json:"throughput_rps"`
	// EventsPerSec: full round trips per second: replies that reached the
	// channel API (webhook in → backend → reply delivered). With -target
	// (no mocks to see replies) it is events accepted per second.
	EventsPerSec float64 `json:"events_per_sec"`
	// CeilingRPS: the ceiling server's 2xx answers per second under the
	// same load.
	CeilingRPS float64 `json:"ceiling_rps"`
	// Ratio is EventsPerSec / CeilingRPS. It measures capacity when both
	// were saturated (closed loop); at a fixed open-loop rate both keep up
	// and it is about the events per webhook.
	Ratio float64 `json:"ratio"`
	// CPUMicrosPerEvent: gateway CPU time per round-tripped event
	// (process-wide in inprocess mode; with -target, per event accepted,
	// from the gateway's /metrics, null when it has no CPU counter).
	CPUMicrosPerEvent *float64 `json:"cpu_us_per_event"`
	// Lost: acknowledged events missing at the backend plus replies
	// missing at the channel API after the drain, over every gateway
	// phase of the run (null with -target).
	Lost *int64 `json:"lost"`
	// Errors: failed webhooks (non-2xx answers, transport errors) of the
	// main phase, plus closed-loop round trips that timed out.
	Errors uint64 `json:"errors"`
	// LatencyMS: webhook answer latency (intended send → 2xx answer).
	LatencyMS latency.Summary `json:"latency_ms"`
	// RoundTripMS: intended send → reply at the channel API.
	RoundTripMS *latency.Summary `json:"roundtrip_ms"`
}

// Host describes the machine.
type Host struct {
	CPUs      int    `json:"cpus"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	Hostname  string `json:"hostname,omitempty"`
	LoadAvg   string `json:"loadavg,omitempty"`
}

// LoadSpec is the main phase's load.
type LoadSpec struct {
	Loop        string  `json:"loop"`
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	Connections int     `json:"connections"`
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
}

// Phase is one load run against one server.
type Phase struct {
	Name        string  `json:"name"`
	Server      string  `json:"server"` // gateway, ceiling or reference
	Loop        string  `json:"loop"`
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	Connections int     `json:"connections"`
	WindowS     float64 `json:"window_s"`

	// ThroughputRPS: 2xx answers per second in the window.
	ThroughputRPS float64 `json:"throughput_rps"`
	// EventsInPerSec: events in 2xx-answered webhooks per second.
	EventsInPerSec float64 `json:"events_in_per_sec"`
	// EventsPerSec: round trips completed (replies at the channel API)
	// per second in the window; for the ceiling, EventsInPerSec.
	EventsPerSec float64 `json:"events_per_sec"`
	// BackendPerSec: events first reaching the backend per second.
	BackendPerSec float64 `json:"backend_per_sec,omitempty"`

	LatencyMS   latency.Summary  `json:"latency_ms"`
	RoundTripMS *latency.Summary `json:"roundtrip_ms,omitempty"`

	Errors     uint64             `json:"errors"`
	ErrorsBy   map[string]uint64  `json:"errors_by_kind,omitempty"`
	Accounting *ledger.Accounting `json:"accounting,omitempty"`
	Drained    *bool              `json:"drained,omitempty"`
	DrainS     float64            `json:"drain_s,omitempty"`
	CPU        *CPU               `json:"cpu,omitempty"`
	Memory     *Memory            `json:"memory,omitempty"`
	Store      *Store             `json:"store,omitempty"`
	Runtime    *Runtime           `json:"runtime,omitempty"`
	HostCPU    *HostCPU           `json:"host_cpu,omitempty"`
	MaxQueueMS float64            `json:"max_queue_ms"`
	// BenchCPU is the bench process's own CPU (generator and mocks), in
	// cores, when the server ran as a separate process.
	BenchCPU float64 `json:"bench_process_cpu_cores,omitempty"`
}

// CPU is a server's CPU use over the window.
type CPU struct {
	Seconds float64 `json:"seconds"`
	Cores   float64 `json:"cores"` // Seconds / window
	// MicrosPerEvent: per round-tripped event (gateway) or per request
	// (ceiling).
	MicrosPerEvent   float64 `json:"us_per_event,omitempty"`
	MicrosPerRequest float64 `json:"us_per_request"`
	// Scope is "process" (the server alone) or "bench-process" (in-process
	// mode: gateway, generator and mocks together).
	Scope  string `json:"scope"`
	Source string `json:"source"`
	// Switches counts the times the server's threads were switched onto
	// a CPU in the window, and RunQueueS the seconds they spent runnable
	// but waiting for one (Source "schedstat" only). On a VM a switch
	// costs tens of microseconds; a waiting thread is latency.
	Switches  uint64  `json:"switches,omitempty"`
	RunQueueS float64 `json:"run_queue_s,omitempty"`
	// SwitchesPerEvent and SwitchesPerRequest are Switches per round trip
	// (gateway, reference) and per 2xx answer.
	SwitchesPerEvent   float64 `json:"switches_per_event,omitempty"`
	SwitchesPerRequest float64 `json:"switches_per_request,omitempty"`
	// RunQueue is RunQueueS over the window: how many of the server's
	// threads were waiting for a CPU, on average.
	RunQueue float64 `json:"run_queue,omitempty"`
}

// Sched reports whether c carries schedstat's switches and run queue
// (the kernel keeps schedstat and the window's sums did not go down).
func (c *CPU) Sched() bool { return c != nil && c.Switches > 0 }

// SetSched fills the CPU figures from schedstat's switches and run delay
// over a window of win seconds with requests answered and events round
// tripped (0: none, as the ceiling's).
func (c *CPU) SetSched(switches uint64, runQueueS, win, requests, events float64) {
	c.Switches, c.RunQueueS = switches, runQueueS
	c.RunQueue = runQueueS / max(win, 1e-9)
	c.SwitchesPerRequest = float64(switches) / max(requests, 1)
	c.SwitchesPerEvent = 0
	if events > 0 {
		c.SwitchesPerEvent = float64(switches) / events
	}
}

// Store is the gateway's embedded store over the window, from its
// /metrics: each commit is one fsync'd transaction, each write one
// Spool, Ack or key-value call riding in one.
type Store struct {
	Commits uint64 `json:"commits"`
	Writes  uint64 `json:"writes"`
	Pages   uint64 `json:"pages"` // written, meta pages included
	// Settled: replies sent before the commit that would have spooled
	// them, so never written (nor acked).
	Settled uint64 `json:"settled"`
	// CommitsPerEvent: commits per round-tripped event.
	CommitsPerEvent float64 `json:"commits_per_event"`
	// WritesPerCommit: how many calls one fsync served (group commit).
	WritesPerCommit float64 `json:"writes_per_commit"`
	// PagesPerCommit: 4 KB pages written per commit (each a pwrite and
	// part of its fsync).
	PagesPerCommit float64 `json:"pages_per_commit"`
	// BackendPOSTsPerEvent: POSTs the mock backend received per event
	// that reached it (1 without backend batching).
	BackendPOSTsPerEvent float64 `json:"backend_posts_per_event"`
	// CommitP50MS and CommitP99MS: the store's commit durations over the
	// window (start to fsync'd), from the gateway's histogram (buckets
	// ~14% wide, interpolated); 0 from builds without it.
	CommitP50MS float64 `json:"commit_p50_ms,omitempty"`
	CommitP99MS float64 `json:"commit_p99_ms,omitempty"`
	// CommitMaxMS: the slowest commit, as the upper bound of its bucket.
	// One commit the disk stalled holds every webhook that came meanwhile,
	// so a single slow one can set a window's answer p99 while the
	// commits' own p99 stays low.
	CommitMaxMS float64 `json:"commit_max_ms,omitempty"`
	// SettledPerReply: Settled per reply the channel mock received.
	SettledPerReply float64 `json:"settled_per_reply"`
	// SendRequestsPerReply: HTTP requests the channel mock received per
	// reply sent (1 without send batching).
	SendRequestsPerReply float64 `json:"send_requests_per_reply"`
	// FileMB is the store file's size after the window (bbolt's file
	// never shrinks: it is the run's high-water mark so far).
	FileMB float64 `json:"file_mb,omitempty"`
}

// Runtime is the gateway's Go runtime over the window, from its /metrics
// (binary mode only): what the heap allocated per round-tripped event,
// and the share of the gateway's CPU the garbage collector took, which
// is what those allocations cost beyond their own.
type Runtime struct {
	AllocKBPerEvent float64 `json:"alloc_kb_per_event"`
	AllocsPerEvent  float64 `json:"allocs_per_event"`
	// GCCPUShare: the collector's CPU seconds (go_gc_cpu_seconds_total,
	// an estimate of the runtime's) over the gateway's CPU seconds.
	GCCPUShare float64 `json:"gc_cpu_share"`
}

// HostCPU is how the whole machine's CPU time divided over the window
// (/proc/stat, every CPU): the fractions busy (every process, the kernel
// included), stolen by the hypervisor for other guests, and idle with I/O
// outstanding. Steal says the VM ran slower than its CPUs: the latencies
// of such a window are the host's as much as the server's.
type HostCPU struct {
	Busy   float64 `json:"busy"`
	Steal  float64 `json:"steal"`
	IOWait float64 `json:"iowait"`
}

// Memory is a server's resident memory.
type Memory struct {
	RSSPeakMB float64 `json:"rss_peak_mb"` // highest sample in the phase
	RSSEndMB  float64 `json:"rss_end_mb"`  // at the window's end, as the parts below
	HWMMB     float64 `json:"hwm_mb"`      // process peak since start
	// The anonymous part of RSS (heap, stacks) at the window's start and
	// end, and its mapped files' part at the end (procstat.Sample.RSSAnon,
	// RSSFile; absent where the kernel lacks them). The gateway's mapped
	// file is mostly its store, which grows with the dedup window by
	// design; anonymous memory growing across a long window is a leak.
	RSSAnonStartMB float64 `json:"rss_anon_start_mb,omitempty"`
	RSSAnonEndMB   float64 `json:"rss_anon_end_mb,omitempty"`
	RSSFileEndMB   float64 `json:"rss_file_end_mb,omitempty"`
}

// Max is the capacity probe: both servers closed loop at high
// concurrency, the gateway's loop waiting for each webhook's replies, so
// its rate is what it sustains end to end without a backlog.
type Max struct {
	Method              string  `json:"method"`
	Concurrency         int     `json:"concurrency"`
	CeilingRPS          float64 `json:"ceiling_rps"`
	GatewayRPS          float64 `json:"gateway_rps"`
	GatewayEventsPerSec float64 `json:"gateway_events_per_sec"`
	Ratio               float64 `json:"ratio"`
	Gateway             *Phase  `json:"gateway,omitempty"`
	Ceiling             *Phase  `json:"ceiling,omitempty"`
}

// Point is one sweep point: both servers open loop at Rate.
type Point struct {
	Rate    float64 `json:"rate"`
	Spec    string  `json:"spec"` // as given: "300" or "50%"
	Gateway Phase   `json:"gateway"`
	Ceiling *Phase  `json:"ceiling,omitempty"`
}

// Target is one of the targets as this run measured it. Pass is
// null when the run did not measure it.
type Target struct {
	Name  string   `json:"name"`
	Value *float64 `json:"value"`
	Limit float64  `json:"limit"`
	Unit  string   `json:"unit"`
	Op    string   `json:"op"` // "<=", ">=", "<", "=="
	Pass  *bool    `json:"pass"`
	Note  string   `json:"note,omitempty"`
	// Reference is the same figure measured on the reference pipeline in
	// the same run (the ratio and CPU targets, when it ran): what the
	// bare job reaches on this machine, beside the limit.
	Reference *float64 `json:"reference,omitempty"`
}

// Check sets Pass from Value; without a Value it leaves Pass as it is:
// unset (not measured), or false from Fail.
func (t *Target) Check() {
	if t.Value == nil {
		return
	}
	v := *t.Value
	var ok bool
	switch t.Op {
	case "<=":
		ok = v <= t.Limit
	case ">=":
		ok = v >= t.Limit
	case "<":
		ok = v < t.Limit
	case "==":
		ok = v == t.Limit
	}
	t.Pass = &ok
}

// Fail marks t failed without a value that could pass: the phase that
// measures it failed (its requests errored), so no figure of it counts.
func (t *Target) Fail(note string) {
	no := false
	t.Value, t.Pass, t.Note = nil, &no, note
}

// Failed reports whether t failed without a value (Fail).
func (t *Target) Failed() bool { return t.Value == nil && t.Pass != nil && !*t.Pass }

// Drift is how far the ceiling's rate moved from its window before the
// gateway's to the one after, as a fraction (+0.1: 10% faster after);
// false when the run did not measure both.
func (r *Results) Drift() (float64, bool) {
	if len(r.CeilingWindowsRPS) != 2 || r.CeilingWindowsRPS[0] <= 0 {
		return 0, false
	}
	return r.CeilingWindowsRPS[1]/r.CeilingWindowsRPS[0] - 1, true
}

// Ratio is a/b, 0 when b is 0.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteJSON writes r to dir/results.json.
func (r *Results) WriteJSON(dir string) (string, error) { return writeResults(dir, r) }

// writeResults writes v, indented, to dir/results.json (making dir).
func writeResults(dir string, v any) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, "results.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}

// F returns a pointer to v, for optional figures.
func F(v float64) *float64 { return &v }
