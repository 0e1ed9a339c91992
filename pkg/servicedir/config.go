package servicedir

// A service directory's configuration files.

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/cgroup"
	"golang.org/x/sys/unix"
)

// Defaults, as s6-supervise has them.
const (
	DefaultTimeoutFinish = 5000 * time.Millisecond
	DefaultMaxDeathTally = 100
	MaxDeathTallyLimit   = 4096

	// svinit's restart backoff and permanent failure (docs/supervise.md).
	DefaultRestartMax      = 60 * time.Second // longest delay before a restart
	DefaultRestartReset    = 10 * time.Second // up that long: the delay starts again from s6's
	DefaultPermafailWindow = 60 * time.Second // svinit-permafail-window
)

// The files of a service directory this package reads.
const (
	Run            = "run"
	Finish         = "finish"
	Down           = "down"
	NotificationFd = "notification-fd"
	LockFd         = "lock-fd"
	TimeoutKill    = "timeout-kill"
	TimeoutFinish  = "timeout-finish"
	MaxDeathTally  = "max-death-tally"
	DownSignal     = "down-signal"
	Log            = "log"

	// svinit's own files (s6-supervise ignores them).
	RestartMax      = "svinit-restart-max"      // ms, the cap of the restart delay
	RestartReset    = "svinit-restart-reset"    // ms up after which the delay starts afresh
	NoBackoff       = "svinit-no-backoff"       // exists: s6's restart rule, no backoff
	PermafailDeaths = "svinit-permafail-deaths" // N: that many deaths in the window: stay down
	PermafailWindow = "svinit-permafail-window" // ms, the window of svinit-permafail-deaths
	MemoryMax       = "svinit-memory-max"       // the cgroup's memory.max (bytes, K/M/G/T, max)
	PidsMax         = "svinit-pids-max"         // the cgroup's pids.max (processes, max)
	CPUWeight       = "svinit-cpu-weight"       // the cgroup's cpu.weight (1-10000)
	NoCgroup        = "svinit-no-cgroup"        // exists: no cgroup of its own, as under s6

	// s6-rc's pipelines, which svscan runs (s6-supervise ignores it):
	// the name of the scan-directory entry whose ./run reads this
	// service's stdout.
	ProducerFor = "producer-for"
)

// Files lists every name above: what a service directory may hold that
// its supervisor looks at (besides supervise/ and event/, which it makes).
var Files = []string{Run, Finish, Down, NotificationFd, LockFd, TimeoutKill, TimeoutFinish, MaxDeathTally, DownSignal, Log,
	RestartMax, RestartReset, NoBackoff, PermafailDeaths, PermafailWindow,
	MemoryMax, PidsMax, CPUWeight, NoCgroup, ProducerFor}

// nFiles is len(Files).
const nFiles = 20

// CgroupFiles are svinit's cgroup files (read with the others before
// each start).
var CgroupFiles = []string{MemoryMax, PidsMax, CPUWeight, NoCgroup}

// BackoffFiles are svinit's restart backoff and permanent failure files
// (read with the others before each start).
var BackoffFiles = []string{RestartMax, RestartReset, NoBackoff, PermafailDeaths, PermafailWindow}

// How many bytes of each value file s6-supervise reads (an unsigned int
// is at most 10 digits; a signal name at most 15 bytes): a longer first
// line is malformed.
const (
	uintBytes   = 11
	signalBytes = 15
)

// Config is what a service directory asks of its supervisor. It is read
// afresh before each spawn, so edits take effect at the next start.
type Config struct {
	Dir            string
	NotificationFd int           // -1: no readiness notification
	LockFd         int           // -1: no lock-fd
	TimeoutKill    time.Duration // 0: never SIGKILL after the down signal
	TimeoutFinish  time.Duration // 0: no limit for ./finish
	MaxDeathTally  int
	DownSignal     syscall.Signal
	HasFinish      bool
	Down           bool // ./down exists: not started at first
	HasLog         bool // ./log is a directory
	// ProducerFor names the scan-directory entry that reads this
	// service's stdout (./producer-for, one line; empty: none).
	ProducerFor string
	// Restart backoff (svinit's): the cap of the delay, how long the
	// service must stay up for the delay to start afresh, and whether
	// it is off (svinit-no-backoff: s6's rule).
	RestartMax   time.Duration
	RestartReset time.Duration
	NoBackoff    bool
	// Permanent failure (svinit's, as s6-permafailon): PermafailDeaths
	// deaths (0: never) within PermafailWindow.
	PermafailDeaths int
	PermafailWindow time.Duration
	// The service's cgroup (svinit's): its limits as the kernel's files
	// take them (empty: none), and whether it has no cgroup of its own
	// (svinit-no-cgroup).
	Limits   cgroup.Limits
	NoCgroup bool
	// RunErr says why ./run cannot be executed (missing, not a regular
	// file, not executable), nil if it looks executable. The supervisor
	// still tries, and retries, as s6-supervise does.
	RunErr error
	// Warnings name every configuration file that was ignored (malformed,
	// not a regular file, unreadable) and the default used instead.
	Warnings []string
}

// Defaults returns the configuration of a directory holding only run.
func Defaults(dir string) Config {
	return Config{Dir: dir, NotificationFd: -1, LockFd: -1, TimeoutFinish: DefaultTimeoutFinish,
		MaxDeathTally: DefaultMaxDeathTally, DownSignal: syscall.SIGTERM,
		RestartMax: DefaultRestartMax, RestartReset: DefaultRestartReset, PermafailWindow: DefaultPermafailWindow}
}

// Load reads dir's configuration for a caller that refuses a service
// with problems (a scanner validating a new service): it fails, naming
// the file and the fix, when ./run is missing or not executable or a
// configuration file was ignored (Config.Warnings). Read is what a
// supervisor uses: it never refuses. s6-svscan does not validate either:
// it supervises every subdirectory, and s6-supervise warns, uses the
// defaults and retries a ./run that cannot run; a scanner that matches it
// calls Read and passes the Config to supervise.Options, which reports
// Warnings and RunErr itself.
func Load(dir string) (Config, error) {
	c, err := Read(dir)
	if err != nil {
		return c, err
	}
	if c.RunErr != nil {
		return c, c.RunErr
	}
	if len(c.Warnings) > 0 {
		return c, errors.New(strings.Join(c.Warnings, "; "))
	}
	return c, nil
}

// Read reads dir's configuration as s6-supervise does: a configuration
// file that cannot be used is reported in Config.Warnings and its
// default used; a ./run that cannot be executed is reported in
// Config.RunErr. It fails only when dir itself cannot be opened or
// listed, with the system's reason (e.g. the descriptor limit).
func Read(dir string) (Config, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Defaults(dir), fmt.Errorf("service dir %s: cannot open: %w", dir, err)
	}
	defer unix.Close(fd)
	return readAt(fd, dir, true)
}

// ReadAt is Read for the directory open as dirfd; dir names it in
// messages.
func ReadAt(dirfd int, dir string) (Config, error) { return readAt(dirfd, dir, false) }

// readAt is ReadAt; own: dirfd is the caller's own, its offset may move.
func readAt(dirfd int, dir string, own bool) (Config, error) {
	c := Defaults(dir)
	// One listing says which files exist and their type, so only those
	// are looked at (a scanner reads every new service; most have only
	// run).
	var found [nFiles]uint8 // d_type + 1 of Files[i]; 0: absent
	if err := list(dirfd, own, &found); err != nil {
		return c, fmt.Errorf("service dir %s: cannot list: %w", dir, err)
	}
	r := reader{dirfd: dirfd, dir: dir}
	r.found = &found
	r.fill(&c, Files...)
	return c, nil
}

// ReadFiles returns the defaults of dir (open as dirfd) with only the
// named files read: a supervisor rereads down-signal and timeout-kill
// when it stops the service, max-death-tally and timeout-finish when the
// service dies, as s6-supervise does.
func ReadFiles(dirfd int, dir string, names ...string) Config {
	c := Defaults(dir)
	r := reader{dirfd: dirfd, dir: dir}
	r.fill(&c, names...)
	return c
}

type reader struct {
	dirfd int
	dir   string
	found *[nFiles]uint8 // nil: unknown, look at every file
}

// dtype returns the d_type of file i of Files plus one, or 0 if it does
// not exist; without a listing, it says "unknown" (DT_UNKNOWN + 1).
func (r *reader) dtype(name string) uint8 {
	if r.found == nil {
		return unix.DT_UNKNOWN + 1
	}
	for i, n := range Files {
		if n == name {
			return r.found[i]
		}
	}
	return 0
}

func (r *reader) warn(c *Config, name, format string, a ...any) {
	c.Warnings = append(c.Warnings, filepath.Join(r.dir, name)+": "+fmt.Sprintf(format, a...))
}

func (r *reader) fill(c *Config, names ...string) {
	for _, name := range names {
		t := r.dtype(name)
		if t == 0 {
			if name == Run {
				c.RunErr = fmt.Errorf("%s: missing: a service needs an executable run file", filepath.Join(r.dir, Run))
			}
			continue
		}
		dt := t - 1
		switch name {
		case Run:
			c.RunErr = r.checkRun(dt)
		case Finish:
			c.HasFinish = r.is(name, dt, unix.DT_REG, unix.S_IFREG)
		case Log:
			c.HasLog = r.is(name, dt, unix.DT_DIR, unix.S_IFDIR)
		case Down:
			// s6-supervise asks access(F_OK): anything but a dangling link.
			c.Down = r.present(name, dt)
		case NoBackoff:
			// As ./down: anything but a dangling link.
			c.NoBackoff = r.present(name, dt)
		case RestartMax:
			r.ms(c, name, dt, &c.RestartMax, "using the default, 60000")
		case NoCgroup:
			c.NoCgroup = r.present(name, dt)
		case MemoryMax:
			r.limit(c, name, dt, cgroup.ParseMemory, &c.Limits.MemoryMax)
		case PidsMax:
			r.limit(c, name, dt, cgroup.ParsePids, &c.Limits.PidsMax)
		case CPUWeight:
			r.limit(c, name, dt, cgroup.ParseCPUWeight, &c.Limits.CPUWeight)
		case RestartReset:
			r.ms(c, name, dt, &c.RestartReset, "using the default, 10000")
		case PermafailDeaths:
			if n, ok := r.uint(c, name, dt, "using 0 (never a permanent failure)"); ok {
				c.PermafailDeaths = int(min(n, MaxDeathTallyLimit))
			}
		case PermafailWindow:
			r.ms(c, name, dt, &c.PermafailWindow, "using the default, 60000")
		case NotificationFd, LockFd:
			n, ok := r.uint(c, name, dt, "ignored")
			switch {
			case !ok:
			case n > 1<<31-1:
				r.warn(c, name, "%d is not a descriptor number: ignored", n)
			case name == NotificationFd:
				c.NotificationFd = int(n)
			default:
				c.LockFd = int(n)
			}
		case TimeoutKill:
			r.ms(c, name, dt, &c.TimeoutKill, "using 0 (never SIGKILL)")
		case TimeoutFinish:
			r.ms(c, name, dt, &c.TimeoutFinish, "using the default, 5000")
		case MaxDeathTally:
			if n, ok := r.uint(c, name, dt, "using the default, 100"); ok {
				c.MaxDeathTally = int(min(n, MaxDeathTallyLimit))
			}
		case ProducerFor:
			c.ProducerFor = r.producerFor(c, name, dt)
		case DownSignal:
			s, ok := r.value(c, name, dt, signalBytes, "using SIGTERM")
			if !ok {
				continue
			}
			sig, err := ParseSignal(s)
			if err != nil {
				r.warn(c, name, "%v: using SIGTERM", err)
				continue
			}
			c.DownSignal = sig
		}
	}
}

// checkRun reports why run cannot be executed, if it cannot.
func (r *reader) checkRun(dt uint8) error {
	path := filepath.Join(r.dir, Run)
	var st unix.Stat_t
	if err := unix.Fstatat(r.dirfd, Run, &st, 0); err != nil {
		if err == unix.ENOENT {
			return fmt.Errorf("%s: missing: a service needs an executable run file", path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s: not a regular file (%s): a service needs an executable run file", path, Kind(st.Mode))
	}
	if err := unix.Faccessat(r.dirfd, Run, unix.X_OK, 0); err != nil {
		return fmt.Errorf("%s: not executable (chmod +x %s)", path, path)
	}
	return nil
}

// is reports whether name has the file type mode (following links).
func (r *reader) is(name string, dt, want uint8, mode uint32) bool {
	if dt != unix.DT_LNK && dt != unix.DT_UNKNOWN {
		return dt == want
	}
	var st unix.Stat_t
	return unix.Fstatat(r.dirfd, name, &st, 0) == nil && st.Mode&unix.S_IFMT == mode
}

func (r *reader) exists(name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(r.dirfd, name, &st, 0) == nil
}

// uint reads an unsigned integer as s6's uint0_scan: decimal digits only,
// up to the first newline, at most 2^32-1.
// present reports whether name (listed with type dt) is there as
// access(F_OK) sees it: anything but a dangling link.
func (r *reader) present(name string, dt uint8) bool {
	return dt != unix.DT_LNK && dt != unix.DT_UNKNOWN || r.exists(name)
}

// ms sets *d from name, a number of milliseconds, leaving it (the
// default) as it is when the file is unusable.
func (r *reader) ms(c *Config, name string, dt uint8, d *time.Duration, fallback string) {
	if n, ok := r.uint(c, name, dt, fallback); ok {
		*d = time.Duration(n) * time.Millisecond
	}
}

// limit sets *v from name, a cgroup limit checked by parse, leaving it
// empty (no limit) when the file is unusable.
func (r *reader) limit(c *Config, name string, dt uint8, parse func(string) (string, error), v *string) {
	s, ok := r.value(c, name, dt, signalBytes, "no limit")
	if !ok {
		return
	}
	l, err := parse(s)
	if err != nil {
		r.warn(c, name, "%q is %v: no limit", s, err)
		return
	}
	*v = l
}

func (r *reader) uint(c *Config, name string, dt uint8, fallback string) (uint64, bool) {
	s, ok := r.value(c, name, dt, uintBytes, fallback)
	if !ok {
		return 0, false
	}
	n, ok := ParseUint(s)
	if !ok {
		r.warn(c, name, "%q is not an unsigned integer: %s", s, fallback)
	}
	return n, ok
}

// value returns the first line of name, read as s6-supervise reads it:
// at most max bytes, cut at the first newline. ok is false when the file
// does not exist (silently) or cannot be used (with a warning).
func (r *reader) value(c *Config, name string, dt uint8, max int, fallback string) (string, bool) {
	var buf [signalBytes]byte
	n, err := ReadSmall(r.dirfd, name, dt, buf[:max])
	if err == unix.ENOENT {
		return "", false
	}
	if err != nil {
		r.warn(c, name, "%v: %s", err, fallback)
		return "", false
	}
	b := buf[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b), true
}

// producerFor reads ./producer-for: one line naming an entry of the
// scan directory (not empty, no slash, not a dot-name, at most 255
// bytes); anything else is reported and ignored.
func (r *reader) producerFor(c *Config, name string, dt uint8) string {
	var buf [257]byte
	n, err := ReadSmall(r.dirfd, name, dt, buf[:])
	if err == unix.ENOENT {
		return ""
	}
	if err != nil {
		r.warn(c, name, "%v: ignored (this service's stdout goes to no consumer)", err)
		return ""
	}
	b := buf[:n]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	v := string(b)
	if v == "" || len(v) > 255 || strings.ContainsAny(v, "/\x00") || v[0] == '.' {
		r.warn(c, name, "%q is not the name of a scan-directory entry (one line: a name without slash, not starting with a dot): ignored", v)
		return ""
	}
	return v
}
