package timeline

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/tai64n"
)

// Options says where Collect reads.
type Options struct {
	// Scandir is the scan directory (bootfs.Scandir on a booted
	// system).
	Scandir string
	// LogDir is the catch-all logger's log directory ("" = not read).
	LogDir string
	// Kmsg is the kernel log device, /dev/kmsg ("" = not read).
	Kmsg string
	// Proc is where procfs is mounted, /proc ("" = not read).
	Proc string
	// Marks are strings to look for in the catch-all log: the first
	// line holding each becomes a mark on the timeline.
	Marks []string
	// Clock is the clocks' reading to put events on; nil reads them
	// now (ReadClock).
	Clock *Clock
}

// Clock is one reading of the realtime clock and of CLOCK_BOOTTIME
// (the time since the kernel started, suspend included) at the same
// instant.
type Clock struct {
	Realtime time.Time
	Boottime time.Duration
}

// KernelStarted is the realtime clock's value at the kernel's start.
func (c Clock) KernelStarted() time.Time { return c.Realtime.Add(-c.Boottime) }

// ReadClock reads the two clocks: the realtime clock on either side of
// CLOCK_BOOTTIME, the midpoint standing for the instant of the latter.
func ReadClock() (Clock, error) {
	var r1, b, r2 unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r1); err != nil {
		return Clock{}, fmt.Errorf("clock_gettime(CLOCK_REALTIME): %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &b); err != nil {
		return Clock{}, fmt.Errorf("clock_gettime(CLOCK_BOOTTIME): %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_REALTIME, &r2); err != nil {
		return Clock{}, fmt.Errorf("clock_gettime(CLOCK_REALTIME): %w", err)
	}
	t1 := time.Unix(r1.Unix())
	t2 := time.Unix(r2.Unix())
	return Clock{Realtime: t1.Add(t2.Sub(t1) / 2), Boottime: time.Duration(b.Nano())}, nil
}

// stepLimit is how far a status file's spawn stamp may be from the
// kernel's start time of the process before the realtime clock is
// taken to have been set in between (a spawn takes milliseconds).
const stepLimit = time.Second

// userHZ is the unit of /proc/PID/stat's start time (USER_HZ, 100 on
// every Linux architecture svinit builds for).
const userHZ = 100

// collector is the state of one Collect.
type collector struct {
	o     Options
	epoch time.Time
	t     *Timeline
	stepW bool // the clock-step warning was given
}

func (c *collector) since(t time.Time) Sec {
	return Sec(t.Sub(c.epoch).Seconds())
}

func (c *collector) stamp(s tai64n.Stamp) Sec { return c.since(s.Time()) }

func (c *collector) warn(format string, a ...any) {
	c.t.Warnings = append(c.t.Warnings, fmt.Sprintf(format, a...))
}

// Collect reads the boot's timeline. Only an unreadable scan directory
// is an error; what the other sources lack is said in Warnings.
func Collect(o Options) (*Timeline, error) {
	clk := o.Clock
	if clk == nil {
		c, err := ReadClock()
		if err != nil {
			return nil, err
		}
		clk = &c
	}
	t := &Timeline{
		Schema:        Schema,
		KernelStarted: clk.KernelStarted().UTC(),
		Taken:         Sec(clk.Boottime.Seconds()),
		Scandir:       o.Scandir,
		LogDir:        o.LogDir,
		Services:      []Row{},
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		t.Host = unix.ByteSliceToString(u.Nodename[:])
		t.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	c := &collector{o: o, epoch: clk.KernelStarted(), t: t}
	ents, err := os.ReadDir(o.Scandir)
	if err != nil {
		return nil, fmt.Errorf("scan directory %s: %w (give svscan's scan directory with -d)", o.Scandir, unwrap(err))
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		dir := filepath.Join(o.Scandir, name)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		t.Services = append(t.Services, c.longrun(name, dir))
		if st, err := os.Stat(filepath.Join(dir, "log")); err == nil && st.IsDir() {
			t.Services = append(t.Services, c.longrun(name+"/log", filepath.Join(dir, "log")))
		}
	}
	c.svrc()
	if o.LogDir != "" {
		c.catchAll()
	} else if len(o.Marks) > 0 {
		c.warn("marks %q: the catch-all log is not read (no log directory)", o.Marks)
	}
	if o.Kmsg != "" {
		c.kmsg()
	}
	sortRows(t.Services)
	return t, nil
}

// longrun reads one service directory's supervise/ files.
func (c *collector) longrun(name, dir string) Row {
	r := Row{Name: name, Kind: KindLongrun}
	if fi, err := os.Stat(filepath.Join(dir, "notification-fd")); err == nil && fi.Mode().IsRegular() {
		r.Notifies = true
	}
	supervised, lerr := servicedir.Supervised(dir)
	st, err := servicedir.ReadStatus(dir)
	if err != nil {
		r.State = StateNotSupervised
		if !errors.Is(err, fs.ErrNotExist) {
			c.warn("service %s: %v", name, err)
		} else if supervised {
			r.State = StateNotStarted // a supervisor that has not written its status yet
		}
		return r
	}
	r.Deaths = c.deaths(name, dir)
	switch {
	case st.Pid != 0 && !st.Finishing:
		r.State = StateUp
		r.Pid = int(int32(uint32(st.Pid)))
		r.Spawned = sec(c.stamp(st.Stamp))
		if st.Ready {
			r.Ready = sec(c.stamp(st.ReadyStamp))
		}
		c.procStart(&r)
	case st.Finishing:
		r.State = StateFinishing
		r.DownSince = sec(c.stamp(st.Stamp))
	case st.Wstat == 0 && st.Stamp == st.ReadyStamp && len(r.Deaths) == 0:
		// s6's "down and ready" from the supervisor's start: ./run
		// never ran.
		r.State = StateNotStarted
	default:
		r.State = StateDown
		r.DownSince = sec(c.stamp(st.Stamp))
	}
	if lerr != nil {
		c.warn("service %s: %v", name, lerr)
	} else if !supervised {
		c.warn("service %s: no supervisor holds supervise/lock: its status file is what its last supervisor left", name)
		r.State, r.Pid = StateNotSupervised, 0
	}
	return r
}

// deaths reads supervise/death_tally: records of 12 bytes of TAI64N,
// one byte of exit code (128+signal for a signal) and one of signal.
func (c *collector) deaths(name, dir string) []Death {
	const recSize = tai64n.Size + 2
	b, err := os.ReadFile(filepath.Join(dir, "supervise", "death_tally"))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.warn("service %s: %v", name, err)
		}
		return nil
	}
	if len(b)%recSize != 0 {
		c.warn("service %s: supervise/death_tally has %d bytes, not a multiple of %d: deaths not shown", name, len(b), recSize)
		return nil
	}
	var out []Death
	for ; len(b) > 0; b = b[recSize:] {
		st, err := tai64n.Parse(b[:tai64n.Size])
		if err != nil {
			c.warn("service %s: supervise/death_tally: %v", name, err)
			return out
		}
		d := Death{At: c.stamp(st)}
		if sig := b[13]; sig != 0 {
			d.Signal = unix.SignalName(syscall.Signal(sig))
			if d.Signal == "" {
				d.Signal = "SIG" + strconv.Itoa(int(sig))
			}
		} else {
			code := int(b[12])
			d.Exit = &code
		}
		out = append(out, d)
	}
	return out
}

// procStart reads the kernel's start time of r.Pid and warns once if it
// disagrees with the status file's stamp.
func (c *collector) procStart(r *Row) {
	if c.o.Proc == "" || r.Pid <= 0 {
		return
	}
	b, err := os.ReadFile(filepath.Join(c.o.Proc, strconv.Itoa(r.Pid), "stat"))
	if err != nil {
		return // gone meanwhile, or no procfs: nothing to compare
	}
	ticks, err := statStart(string(b))
	if err != nil {
		c.warn("service %s: %s/%d/stat: %v", r.Name, c.o.Proc, r.Pid, err)
		return
	}
	ps := Sec(float64(ticks) / userHZ)
	r.ProcStarted = &ps
	if d := float64(ps - *r.Spawned); math.Abs(d) > stepLimit.Seconds() && !c.stepW {
		c.stepW = true
		c.warn("service %s: its status file says spawned at %s s but the kernel started its process at %s s: the realtime clock was set in between, so times read from status files and logs before that are off by about %.3f s", r.Name, fmtSec(*r.Spawned), fmtSec(ps), d)
	}
}

// statStart returns field 22 (starttime, in clock ticks since boot) of
// a /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses: the fields are counted from its last ')'.
func statStart(s string) (uint64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): starttime, field 22, is f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 20", len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// svrcState is svrc's directory in the scan directory (pkg/rc.StateDir;
// not imported, so that this package stays small in the busybox).
const svrcState = ".svrc"

// svrc reads svrc's state: oneshots that are up (their marker's
// modification time is when the up script succeeded) and recorded
// failures.
func (c *collector) svrc() {
	dir := filepath.Join(c.o.Scandir, svrcState)
	if ents, err := os.ReadDir(filepath.Join(dir, "oneshot")); err == nil {
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				continue
			}
			c.t.Services = append(c.t.Services, Row{Name: e.Name(), Kind: KindOneshot, State: StateDone, Done: sec(c.since(fi.ModTime()))})
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "failed"))
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, "failed", e.Name())
		fi, err1 := e.Info()
		b, err2 := os.ReadFile(p)
		if err1 != nil || err2 != nil {
			continue
		}
		reason := strings.TrimSpace(string(b))
		// "2026-12-07T23:38:01Z reason": the date is the file's
		// modification time, which is finer.
		if d, rest, ok := strings.Cut(reason, " "); ok {
			if _, err := time.Parse(time.RFC3339, d); err == nil {
				reason = rest
			}
		}
		ev := Event{At: c.since(fi.ModTime()), Text: "svrc: transition failed: " + reason}
		if r := c.row(e.Name()); r != nil {
			r.Log = append(r.Log, ev)
			continue
		}
		c.t.Services = append(c.t.Services, Row{Name: e.Name(), Kind: KindOneshot, State: StateFailed, Log: []Event{ev}})
	}
}

// row returns the row named name.
func (c *collector) row(name string) *Row {
	for i := range c.t.Services {
		if c.t.Services[i].Name == name {
			return &c.t.Services[i]
		}
	}
	return nil
}

// maxLogText bounds the text kept of one log line.
const maxLogText = 300

// catchAll reads the catch-all log directory: its archives (@*.s, @*.u,
// whose names are TAI64N labels and so sort by time) then current.
func (c *collector) catchAll() {
	dir := c.o.LogDir
	arch, _ := filepath.Glob(filepath.Join(dir, "@*.[su]"))
	sort.Strings(arch)
	files := append(arch, filepath.Join(dir, "current"))
	found := make([]bool, len(c.o.Marks))
	labelled, lines := 0, 0
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			if p == files[len(files)-1] && len(arch) == 0 {
				c.warn("catch-all log %s: %v: its lines are not used (-l names another log directory)", dir, unwrap(err))
			}
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines++
			st, rest, err := tai64n.ParseLabelPrefix(sc.Bytes())
			if err != nil {
				continue
			}
			labelled++
			at := c.stamp(st)
			text := string(rest)
			if len(text) > maxLogText {
				text = text[:maxLogText] + "..."
			}
			for i, m := range c.o.Marks {
				if !found[i] && strings.Contains(text, m) {
					found[i] = true
					c.t.Marks = append(c.t.Marks, Event{At: at, Text: text})
				}
			}
			if r := c.serviceOf(text); r != nil {
				r.Log = append(r.Log, Event{At: at, Text: text})
			}
		}
		if err := sc.Err(); err != nil {
			c.warn("catch-all log %s: %v", p, err)
		}
		f.Close()
	}
	if lines > 0 && labelled == 0 {
		c.warn("catch-all log %s: no line starts with a TAI64N label (svlog's t directive): its lines are not used", dir)
	}
	for i, m := range c.o.Marks {
		if !found[i] {
			c.warn("mark %q: no catch-all log line holds it", m)
		}
	}
}

// serviceOf returns the row a supervisor's message is about: the line
// holds "service DIR: ", DIR ending with a row's name (the longest).
func (c *collector) serviceOf(text string) *Row {
	i := strings.Index(text, "service ")
	if i < 0 {
		return nil
	}
	rest := text[i+len("service "):]
	j := strings.Index(rest, ": ")
	if j < 0 {
		return nil
	}
	p := strings.TrimRight(rest[:j], "/")
	var best *Row
	for k := range c.t.Services {
		r := &c.t.Services[k]
		if r.Kind != KindLongrun {
			continue
		}
		if (p == r.Name || strings.HasSuffix(p, "/"+r.Name)) && (best == nil || len(r.Name) > len(best.Name)) {
			best = r
		}
	}
	return best
}

// kmsg finds when the kernel ran init.
func (c *collector) kmsg() {
	at, init, err := RunInit(c.o.Kmsg)
	if err != nil {
		c.warn("kernel log: %v: the kernel's hand-off to init is not shown", err)
		return
	}
	s := Sec(at.Seconds())
	c.t.RunInit, c.t.Init = &s, init
}

// unwrap drops the operation and path from a *PathError, for a caller
// that names the file itself.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
