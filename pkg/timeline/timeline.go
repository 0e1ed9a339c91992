// Package timeline puts a boot on one clock: when each supervised
// service was spawned and became ready, in seconds since the kernel
// started. It reads what svinit already keeps (each service's
// supervise/status and supervise/death_tally, svrc's state, the
// catch-all log) and the kernel's clocks (CLOCK_BOOTTIME next to the
// realtime clock, /dev/kmsg for "Run /init", /proc for process start
// times), and renders the result as a text chart, JSON or an SVG
// picture. See docs/svinit-timeline.md.
package timeline

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Schema names the JSON format written by WriteJSON.
const Schema = "svinit-timeline/1"

// Kinds of rows.
const (
	KindLongrun = "longrun" // a supervised service directory
	KindOneshot = "oneshot" // an svrc oneshot that is up
)

// States of a row.
const (
	StateUp            = "up"
	StateDown          = "down"
	StateFinishing     = "finishing"
	StateNotStarted    = "not started"    // supervised, ./run never spawned
	StateNotSupervised = "not supervised" // no supervisor holds the lock
	StateDone          = "done"           // oneshot: up script succeeded
	StateFailed        = "failed"         // svrc recorded a failed transition
)

// Timeline is one reading of the boot. Times (type Sec) are seconds
// since the kernel started, on CLOCK_BOOTTIME.
type Timeline struct {
	Schema string `json:"schema"`
	Host   string `json:"host,omitempty"`
	Kernel string `json:"kernel,omitempty"`
	// KernelStarted is the realtime clock's reading at the kernel's
	// start: the realtime clock now minus CLOCK_BOOTTIME now.
	KernelStarted time.Time `json:"kernel_started"`
	// Taken is when the reading was made.
	Taken Sec `json:"taken"`
	// RunInit is when the kernel ran the init program (its log line
	// "Run /init as init process"); nil when the kernel log no longer
	// has the line or cannot be read.
	RunInit *Sec   `json:"run_init,omitempty"`
	Init    string `json:"init,omitempty"` // the program the kernel ran
	Scandir string `json:"scandir"`
	LogDir  string `json:"log_dir,omitempty"`
	// Services are sorted by their first known event (see Row.First).
	Services []Row `json:"services"`
	// Marks are the first catch-all log lines holding each string asked
	// for (Options.Marks).
	Marks    []Event  `json:"marks,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Sec is a time in seconds since the kernel started. It marshals with
// microsecond precision.
type Sec float64

// MarshalJSON writes s with six decimals.
func (s Sec) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
		return nil, fmt.Errorf("timeline: time %v is not a number", float64(s))
	}
	return []byte(fmt.Sprintf("%.6f", float64(s))), nil
}

// Row is one service.
type Row struct {
	// Name is the service directory relative to the scan directory
	// ("udev", "chatty/log"); for a oneshot, its svrc name.
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	Pid   int    `json:"pid,omitempty"`
	// Notifies is true when the service has a notification-fd, so that
	// "ready" means the service said so; without it, s6 never marks a
	// running service ready and neither is Ready set.
	Notifies bool `json:"notifies"`
	// Spawned is the last spawn of ./run (the status file's up stamp
	// while it runs). Earlier spawns of a restarted service are not
	// recorded anywhere: their ends are in Deaths.
	Spawned *Sec `json:"spawned,omitempty"`
	// Ready is when the running ./run said it was ready.
	Ready *Sec `json:"ready,omitempty"`
	// DownSince is when ./run last died, for a service that is down.
	DownSince *Sec `json:"down_since,omitempty"`
	// Done is when a oneshot's up script succeeded.
	Done *Sec `json:"done,omitempty"`
	// ProcStarted is the kernel's start time of Pid (/proc/PID/stat),
	// on CLOCK_BOOTTIME whatever the realtime clock did; it differs
	// from Spawned by the time a spawn takes unless the realtime clock
	// was set in between.
	ProcStarted *Sec `json:"proc_started,omitempty"`
	// Deaths are the deaths of ./run that supervise/death_tally still
	// holds (s6 keeps the newest max-death-tally, 100 by default).
	Deaths []Death `json:"deaths,omitempty"`
	// Log holds the catch-all log's lines about this service (the
	// supervisor's "service DIR: ..." messages) and svrc's record of a
	// failed transition.
	Log []Event `json:"log,omitempty"`
}

// Death is one death of ./run.
type Death struct {
	At     Sec    `json:"at"`
	Exit   *int   `json:"exit,omitempty"`   // exit code, for a normal exit
	Signal string `json:"signal,omitempty"` // signal name, for a death by signal
}

// Event is a dated line of text.
type Event struct {
	At   Sec    `json:"at"`
	Text string `json:"text"`
}

// What describes a death as svstat does ("exit 1", "signal SIGKILL").
func (d Death) What() string {
	if d.Signal != "" {
		return "signal " + d.Signal
	}
	if d.Exit != nil {
		return fmt.Sprintf("exit %d", *d.Exit)
	}
	return "died"
}

// First returns the earliest time known for r (spawn, ready, a death,
// done, down; its log lines when it has none of those) and whether
// there is one.
func (r *Row) First() (Sec, bool) {
	first, ok := Sec(0), false
	see := func(s Sec) {
		if !ok || s < first {
			first, ok = s, true
		}
	}
	for _, p := range []*Sec{r.Spawned, r.Ready, r.DownSince, r.Done} {
		if p != nil {
			see(*p)
		}
	}
	for _, d := range r.Deaths {
		see(d.At)
	}
	if !ok {
		// A row known only by its log lines (svrc's record of a
		// failure) is placed by them.
		for _, e := range r.Log {
			see(e.At)
		}
	}
	return first, ok
}

// Last returns the latest time known for r, its log lines left out (a
// message hours later would stretch the chart).
func (r *Row) Last() (Sec, bool) {
	last, ok := Sec(0), false
	see := func(s Sec) {
		if !ok || s > last {
			last, ok = s, true
		}
	}
	for _, p := range []*Sec{r.Spawned, r.Ready, r.DownSince, r.Done} {
		if p != nil {
			see(*p)
		}
	}
	for _, d := range r.Deaths {
		see(d.At)
	}
	return last, ok
}

// Running reports whether r's ./run is running now.
func (r *Row) Running() bool { return r.State == StateUp || r.State == StateFinishing }

// sortRows orders rows by their first known event, rows without one
// last, then by name.
func sortRows(rows []Row) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, aok := rows[i].First()
		b, bok := rows[j].First()
		if aok != bok {
			return aok
		}
		if aok && a != b {
			return a < b
		}
		return rows[i].Name < rows[j].Name
	})
}

// End returns the latest event of the timeline: the last spawn, ready,
// death, done or mark, "Run /init", and at least one second.
func (t *Timeline) End() Sec {
	end := Sec(1)
	if t.RunInit != nil {
		end = max(end, *t.RunInit)
	}
	for i := range t.Services {
		if l, ok := t.Services[i].Last(); ok {
			end = max(end, l)
		}
	}
	for _, m := range t.Marks {
		end = max(end, m.At)
	}
	return end
}

func sec(s Sec) *Sec { return &s }

// fmtSec formats s with millisecond precision and no unit ("0.905").
func fmtSec(s Sec) string { return fmt.Sprintf("%.3f", float64(s)) }
