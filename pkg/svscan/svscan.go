// Package svscan is an s6-svscan-compatible scanner that supervises every
// service of a scan directory in-process (a state machine per service, see
// package supervise) instead of one s6-supervise process per service.
// It scans on startup and on demand (control letter 'a', SIGALRM, SIGHUP),
// and polls only when asked to. For a service directory with a log/
// subdirectory it holds one pipe between the service and its logger for
// as long as either is supervised, so either can restart without losing
// a line.
package svscan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/spawn"
	"github.com/svinit/svinit/pkg/supervise"
	"golang.org/x/sys/unix"
)

// Options configure a Scanner.
type Options struct {
	Dir string
	// Poll rescans periodically when non-zero (svscan -t). Zero means
	// scans happen only on demand.
	Poll time.Duration
	// Stderr receives the scanner's messages (default os.Stderr). Writes
	// to it happen on a separate goroutine and never block supervision.
	Stderr io.Writer
	// Prog prefixes messages (default "svscan").
	Prog string
	// Exec replaces the process image with the finish script; tests
	// inject it. Default: syscall.Exec.
	Exec func(argv0 string, argv []string, env []string) error
	// NoBackoff turns every service's restart backoff off (svscan -B):
	// s6's restart rule, as svinit-no-backoff does for one service.
	NoBackoff bool
}

type key struct{ dev, ino uint64 }

// pair is one scan-directory entry: a service and, if it has log/, its
// logger, joined by a pipe the scanner holds.
type pair struct {
	name         string
	key          key
	active       bool
	main, log    *supervise.Service
	pipeR, pipeW *os.File
	reported     string
	// When each supervisor was last started: a supervisor that exits
	// while its service is active is started again, not sooner than
	// restartGap after that.
	mainStarted, logStarted time.Time
	// cfg and logCfg are what validate read, handed to the first start
	// so that the directory is not read twice on the way to up.
	cfg, logCfg *servicedir.Config
}

type done struct {
	p     *pair
	isLog bool
}

// Scanner supervises a scan directory.
type Scanner struct {
	poller  *supervise.ControlPoller // reads every service's supervise/control
	opts    Options
	reaper  *reaper.Reaper
	pairs   map[key]*pair
	order   []key
	control *os.File
	// Control letters and signals are folded into pend (any number of
	// 'a' is one scan) and applied by Run; ctlKick wakes it.
	pmu     sync.Mutex
	pend    pending
	ctlKick chan struct{}
	// Supervisors to start again (see pair.mainStarted), and a rescan
	// after a scan that failed for want of resources: restartT fires at
	// the earliest; restartAt is when it is set for (zero: not set).
	restartT  *time.Timer
	restartAt time.Time
	rescanAt  time.Time
	// refused holds what the last scan reported for each service it
	// could not supervise, so that a rescan reports it only if it changed.
	refused map[key]string
	// scans counts the scans performed, reads the reads of the control
	// FIFO that brought letters (tests read them).
	scans, reads atomic.Int64
	lock         *os.File
	logq         chan string
	dropped      atomic.Int64
	exiting      byte // 0, 't' or 'q'
	kick         chan struct{}
	logDone      chan struct{}
	// Ends of supervision, queued by each service's OnExit callback
	// (no goroutine per service waits for them); dqKick wakes Run.
	dqMu   sync.Mutex
	dq     []done
	dqKick chan struct{}
	// During a shutdown as PID 1: a copy of the catch-all logger's FIFO
	// writer, for the services' last ./finish and the scanner's own
	// messages, closed once every service but the catch-all logger is
	// down (then the logger sees EOF); and that logger's pair.
	keep     *os.File
	catchAll *pair
	errw     switchWriter
}

// switchWriter is the scanner's error output, which a shutdown moves.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *switchWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func (w *switchWriter) set(to io.Writer) {
	w.mu.Lock()
	w.w = to
	w.mu.Unlock()
}

// New prepares dir: takes .s6-svscan/lock and opens .s6-svscan/control.
func New(opts Options) (*Scanner, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Prog == "" {
		opts.Prog = "svscan"
	}
	if opts.Exec == nil {
		opts.Exec = syscall.Exec
	}
	fi, err := os.Stat(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("scan dir %s: %w", opts.Dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("scan dir %s: not a directory", opts.Dir)
	}
	s := &Scanner{opts: opts, reaper: reaper.New(), pairs: map[key]*pair{}, dqKick: make(chan struct{}, 1),
		ctlKick: make(chan struct{}, 1), logq: make(chan string, 4096), kick: make(chan struct{}, 1),
		logDone: make(chan struct{})}
	s.errw.w = opts.Stderr
	s.reaper.NoFile = raiseFileLimit(os.Getpid() == 1, s.logf)
	ctl := filepath.Join(opts.Dir, ".s6-svscan")
	if err := os.Mkdir(ctl, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("scan dir %s: cannot create .s6-svscan: %w", opts.Dir, err)
	}
	lock, err := servicedir.TakeLock(filepath.Join(ctl, "lock"), 0o600)
	if errors.Is(err, servicedir.ErrLockHeld) {
		return nil, fmt.Errorf("scan dir %s: another scanner is already running on it (.s6-svscan/lock is held)", opts.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("scan dir %s: .s6-svscan/lock: %w", opts.Dir, err)
	}
	cp := filepath.Join(ctl, "control")
	fd, err := servicedir.OpenControlFIFO(cp)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("scan dir %s: .s6-svscan/control: %w", opts.Dir, err)
	}
	if s.poller, err = supervise.NewControlPoller(); err != nil {
		unix.Close(fd)
		lock.Close()
		return nil, fmt.Errorf("scan dir %s: %w", opts.Dir, err)
	}
	go s.poller.Run()
	s.lock = lock
	s.control = os.NewFile(uintptr(fd), cp)
	return s, nil
}

// childNoFile is the soft descriptor limit services get under process 1:
// the kernel's default for init (INR_OPEN_CUR), which is what they get
// under s6-svscan; FD_SETSIZE, for programs that still use select(2).
const childNoFile = 1024

// raiseFileLimit raises the scanner's limits on open descriptors and
// returns the limit its children must get instead (nil: the same as
// the scanner's). Failures are reported through logf.
func raiseFileLimit(pid1 bool, logf func(string, ...any)) *unix.Rlimit {
	var start, now unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &start); err != nil {
		logf("cannot read the open-file limit (RLIMIT_NOFILE): %v", err)
		return nil
	}
	if err := setFileLimit(pid1); err != nil {
		logf("cannot raise the open-file limit (RLIMIT_NOFILE): %v", err)
	}
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &now) != nil {
		return nil
	}
	child := start // as it was (Go's runtime has already raised the soft one)
	if pid1 {
		child = unix.Rlimit{Cur: min(childNoFile, now.Max), Max: now.Max}
	}
	if child == now {
		return nil
	}
	return &child
}

// setFileLimit raises the soft limit on open descriptors (RLIMIT_NOFILE)
// to the hard limit: the scanner holds 3 per service, 8 per service
// with a logger. With hard set (process 1, which has no parent to have
// chosen a limit for it and inherits the kernel's 1024 and 4096), it
// first raises the hard limit to the most the kernel allows
// (fs.nr_open).
func setFileLimit(hard bool) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	var hardErr error
	if hard {
		if n, _ := nrOpen(); n > lim.Max {
			want := unix.Rlimit{Cur: n, Max: n}
			hardErr = unix.Setrlimit(unix.RLIMIT_NOFILE, &want)
			if hardErr == nil {
				return nil
			}
			// EPERM: no CAP_SYS_RESOURCE (a container's process 1).
			hardErr = fmt.Errorf("hard limit %d to fs.nr_open (%d): %w", lim.Max, n, hardErr)
		}
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return fmt.Errorf("soft limit to the hard limit (%d): %w", lim.Max, err)
		}
	}
	return hardErr
}

// nrOpen is the kernel's ceiling for RLIMIT_NOFILE.
func nrOpen() (uint64, error) {
	b, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		return 1 << 20, err // the kernel's default, when /proc is not there yet
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// logf queues a message; if the queue is full (the catch-all logger is
// stuck), the message is counted and reported later instead of blocking.
func (s *Scanner) logf(format string, a ...any) {
	msg := s.opts.Prog + ": " + fmt.Sprintf(format, a...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	select {
	case s.logq <- msg:
	default:
		s.dropped.Add(1)
	}
}

func (s *Scanner) writeLogs() {
	defer close(s.logDone)
	for msg := range s.logq {
		if n := s.dropped.Swap(0); n > 0 {
			fmt.Fprintf(&s.errw, "%s: %d message(s) dropped: the error output was not being read\n", s.opts.Prog, n)
		}
		io.WriteString(&s.errw, msg)
	}
}

func (s *Scanner) readControl() {
	// Whatever a read brings is folded into pend at once: the reader
	// never waits for the scanner, and any number of letters read while
	// a scan runs costs one more scan at most.
	buf := make([]byte, 4096)
	for {
		n, err := s.control.Read(buf)
		if n > 0 {
			s.reads.Add(1)
			s.post(buf[:n])
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			s.logf("read .s6-svscan/control: %v", err)
			return
		}
	}
}

// pending is what the control letters and signals received since Run
// last looked ask for, as s6-svscan keeps it: flags, not a queue. Any
// number of 'a' is one scan; a prune asked for with a scan follows it.
type pending struct {
	scan    bool // a, h, SIGALRM, SIGHUP
	prune   byte // 0, 'n' (h, SIGHUP too) or 'N'
	reap    bool // z
	stop    byte // 0, 't' (i, SIGTERM, SIGINT) or 'q' (SIGQUIT)
	abort   bool // b, SIGABRT
	unknown int  // bytes that are not commands
}

// post folds letters into the pending commands and wakes Run.
func (s *Scanner) post(letters []byte) {
	s.pmu.Lock()
	p := &s.pend
	for _, c := range letters {
		switch c {
		case 'a':
			p.scan = true
		case 'h':
			p.scan = true
			if p.prune == 0 {
				p.prune = 'n'
			}
		case 'n':
			if p.prune == 0 {
				p.prune = 'n'
			}
		case 'N':
			p.prune = 'N'
		case 't', 'i':
			if p.stop == 0 {
				p.stop = 't'
			}
		case 'q':
			p.stop = 'q'
		case 'b':
			p.abort = true
		case 'z':
			p.reap = true
		case '\n':
		default:
			p.unknown++
		}
	}
	s.pmu.Unlock()
	select {
	case s.ctlKick <- struct{}{}:
	default:
	}
}

// applyPending carries out the pending commands, each once, in this
// order: scan, prune, reap, stop. It reports whether the scanner must
// exec its finish script right away ('b').
func (s *Scanner) applyPending() bool {
	s.pmu.Lock()
	p := s.pend
	s.pend = pending{}
	s.pmu.Unlock()
	if p.unknown > 0 {
		s.logf("ignored %d byte(s) on %s/.s6-svscan/control that are not svscanctl commands", p.unknown, s.opts.Dir)
	}
	if p.abort {
		return true
	}
	if p.scan && s.exiting == 0 {
		s.scan()
	}
	if p.prune != 0 {
		s.prune(p.prune == 'N')
	}
	if p.reap {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	if p.stop != 0 {
		s.stopAll(p.stop == 'q')
	}
	return false
}

// hooked are the signals the scanner reacts to, by .s6-svscan/SIG<NAME>
// hook or by default action.
var hooked = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGABRT}

var defaultAction = map[syscall.Signal]string{
	syscall.SIGHUP: "h", syscall.SIGINT: "t", syscall.SIGTERM: "t", syscall.SIGQUIT: "q",
	syscall.SIGALRM: "a", syscall.SIGABRT: "b",
}

// Run scans and supervises until told to exit, then execs
// .s6-svscan/finish when it is executable. It returns only on exit.
func (s *Scanner) Run() error {
	// Signals first: a message New queued may meet a broken pipe (as
	// process 1 the catch-all FIFO has no reader yet), and an EPIPE on
	// descriptor 2 raises SIGPIPE, which must be caught by then.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, hooked...)
	// Broken pipes must not kill the scanner; the handler (unlike an
	// ignored disposition) is reset to the default in children.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	if os.Getpid() == 1 {
		// The kernel drops a signal sent to process 1 when its action
		// is the default; but Go catches these seven to crash with a
		// stack dump. Caught here, one sent by kill(2) is dropped too.
		signal.Notify(pipes, fatal...)
		// Sent with sigqueue(3) (si_code SI_QUEUE, not SI_USER), the
		// runtime takes them for real faults and crashes before any
		// channel sees them. Six of them Go has no use for: ignored,
		// the kernel drops them whoever sends them (a real fault is
		// still fatal: the kernel then restores the default action).
		// SIGSEGV stays: nil pointer panics need the runtime's handler.
		// Only where package spawn starts the children (amd64): it sets
		// their action back to the default, syscall.ForkExec would not.
		if runtime.GOARCH == "amd64" {
			ignoreFaults()
		}
	}
	go func() {
		for range pipes {
		}
	}()
	go s.writeLogs()
	stop := make(chan struct{})
	go s.reaper.Run(stop, s.kick)
	go s.readControl()
	var tick <-chan time.Time
	if s.opts.Poll > 0 {
		t := time.NewTicker(s.opts.Poll)
		defer t.Stop()
		tick = t.C
	}
	s.restartT = time.NewTimer(time.Hour)
	s.restartT.Stop()
	defer s.restartT.Stop()
	s.scan()
	abort := false
	for !abort {
		if s.exiting != 0 && s.allDone() {
			break
		}
		select {
		case <-s.ctlKick:
			abort = s.applyPending()
		case sig := <-sigs:
			abort = s.signal(sig.(syscall.Signal))
		case <-s.dqKick:
			s.dqMu.Lock()
			q := s.dq
			s.dq = nil
			s.dqMu.Unlock()
			for _, d := range q {
				s.serviceDone(d)
			}
		case <-s.restartT.C:
			s.restartAt = time.Time{}
			s.restartDue()
		case <-tick:
			if s.exiting == 0 {
				s.scan()
			}
		}
	}
	signal.Stop(sigs)
	return s.finish(stop)
}

// fatal are the signals the Go runtime turns into a crash when they are
// sent by another process and not caught (synchronous faults and traps).
var fatal = []os.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE,
	syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS}

// ignored are the fault signals process 1 ignores (see Run); package
// spawn gives children their default action back.
var ignored = []syscall.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE,
	syscall.SIGSTKFLT, syscall.SIGSYS}

// ignoreFaults sets the signals in ignored to SIG_IGN behind the Go
// runtime's back (signal.Ignore only marks them, for SI_USER senders).
func ignoreFaults() {
	// struct sigaction: handler, flags, restorer, mask; SIG_IGN is 1.
	act := [4]uint64{1}
	for _, sig := range ignored {
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	}
}

// restartGap is the least time between two starts of one supervisor, as
// s6-svscan spaces the s6-supervise processes it restarts.
const restartGap = time.Second

// rescanDelay is how long a scan that failed for want of resources (a
// descriptor, memory) waits before the scanner tries again.
const rescanDelay = 3 * time.Second

// wake makes sure restartT fires at or before t.
func (s *Scanner) wake(t time.Time) {
	if !s.restartAt.IsZero() && !t.Before(s.restartAt) {
		return
	}
	s.restartAt = t
	s.restartT.Stop()
	s.restartT.Reset(time.Until(t))
}

// missing reports whether an active pair lacks a supervisor, and from
// when it may have it again.
func (s *Scanner) missing(p *pair) (bool, time.Time) {
	var due time.Time
	need := false
	if p.main == nil {
		need, due = true, p.mainStarted.Add(restartGap)
	}
	if p.log == nil && p.pipeR != nil {
		if t := p.logStarted.Add(restartGap); !need || t.Before(due) {
			due = t
		}
		need = true
	}
	return need, due
}

// schedule arranges for the supervisors an active pair lacks to be
// started again (s6-svscan restarts an s6-supervise that died while its
// service is active, at most once a second).
func (s *Scanner) schedule(p *pair) {
	if s.exiting != 0 || !p.active || s.restartT == nil {
		return
	}
	if need, due := s.missing(p); need {
		s.wake(due)
	}
}

// restartDue starts the supervisors that are due, and rescans when a
// scan asked for it.
func (s *Scanner) restartDue() {
	if s.exiting != 0 {
		return
	}
	now := time.Now()
	if !s.rescanAt.IsZero() {
		if now.Before(s.rescanAt) {
			s.wake(s.rescanAt)
		} else {
			s.rescanAt = time.Time{}
			s.scan() // starts whatever it finds missing, too
			return
		}
	}
	rescan := false
	for _, k := range s.order {
		p := s.pairs[k]
		if !p.active {
			continue
		}
		need, due := s.missing(p)
		if !need {
			continue
		}
		if due.After(now) {
			s.wake(due)
			continue
		}
		dir := filepath.Join(s.opts.Dir, p.name)
		var st unix.Stat_t
		if unix.Stat(dir, &st) != nil || (key{st.Dev, st.Ino}) != p.key {
			rescan = true // renamed or gone: the scan will tell
			continue
		}
		s.start(p, dir)
		s.schedule(p) // could not be started: try again later
	}
	if rescan {
		s.scan()
	}
}

func (s *Scanner) signal(sig syscall.Signal) bool {
	name := servicedir.SignalName(sig)
	hook := filepath.Join(s.opts.Dir, ".s6-svscan", name)
	if servicedir.CheckExecutable(hook) == nil {
		attr := &spawn.Attr{Dir: s.opts.Dir, Env: os.Environ(), Files: []int{0, 1, 2}}
		if _, err := s.reaper.Spawn(hook, []string{hook}, attr, nil); err != nil {
			s.logf("cannot run %s for %s: %v", hook, name, err)
		}
		return false
	}
	if a, ok := defaultAction[sig]; ok {
		s.post([]byte(a))
	}
	return s.applyPending()
}

func (s *Scanner) stopAll(quit bool) {
	if s.exiting == 't' && !quit || s.exiting == 'q' {
		return
	}
	if quit {
		s.exiting = 'q'
	} else {
		s.exiting = 't'
	}
	if os.Getpid() == 1 {
		s.keepCatchAll()
		s.releaseCatchAll()
		s.doneWithCatchAll()
	}
	for _, k := range s.order {
		p := s.pairs[k]
		if p.main != nil {
			p.main.Control("dx")
		} else {
			// No supervisor will ever write to the logger again.
			s.closeWriter(p)
		}
		if p.log != nil {
			if quit {
				p.log.Control("dx")
			} else {
				p.log.Control("x")
			}
		}
	}
}

// keepCatchAll keeps a copy of the catch-all logger's FIFO (the
// scanner's stdout as PID 1) for what is still written during the
// shutdown: every other service's last ./finish, the scanner's messages.
// The logger is the service whose directory has that FIFO as "fifo".
// Nothing is kept when there is no such service.
func (s *Scanner) keepCatchAll() {
	if s.keep != nil {
		return
	}
	var out unix.Stat_t
	if unix.Fstat(1, &out) != nil || out.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	for _, k := range s.order {
		p := s.pairs[k]
		var st unix.Stat_t
		if unix.Stat(filepath.Join(s.opts.Dir, p.name, "fifo"), &st) == nil && st.Dev == out.Dev && st.Ino == out.Ino {
			s.catchAll = p
			break
		}
	}
	if s.catchAll == nil || s.catchAll.main == nil {
		s.catchAll = nil
		return
	}
	fd, err := unix.FcntlInt(1, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		s.logf("cannot keep the catch-all logger's FIFO for the shutdown: %v", err)
		s.catchAll = nil
		return
	}
	s.keep = os.NewFile(uintptr(fd), "catch-all FIFO")
	for _, p := range s.pairs {
		if p == s.catchAll {
			continue
		}
		for _, svc := range []*supervise.Service{p.main, p.log} {
			if svc != nil {
				svc.SetDefaultOutput(s.keep)
			}
		}
	}
	s.errw.set(s.keep)
}

// doneWithCatchAll closes the kept copy of the catch-all FIFO once every
// service but the catch-all logger is down, so that the logger, which
// only exits on EOF, can finish.
func (s *Scanner) doneWithCatchAll() {
	if s.keep == nil {
		return
	}
	for _, p := range s.pairs {
		if p != s.catchAll && (p.main != nil || p.log != nil) {
			return
		}
	}
	s.errw.set(s.opts.Stderr)
	s.keep.Close()
	s.keep = nil
}

// releaseCatchAll points the scanner's own stdout and stderr at the
// console. As PID 1 they are the catch-all logger's FIFO: the logger,
// which ignores SIGTERM so that it logs the shutdown, only exits on EOF,
// and EOF needs every writer gone, the scanner included.
func (s *Scanner) releaseCatchAll() {
	fd, err := unix.Open("/dev/console", unix.O_WRONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		s.logf("cannot release the catch-all logger's FIFO: %v", err)
		return
	}
	// Let queued messages reach the logger first.
	for i := 0; i < 100 && len(s.logq) > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	unix.Dup3(fd, 1, 0)
	unix.Dup3(fd, 2, 0)
	unix.Close(fd)
}

func (s *Scanner) allDone() bool {
	for _, p := range s.pairs {
		if p.main != nil || p.log != nil {
			return false
		}
	}
	return true
}

// prune stops the services whose directory was gone at the last scan;
// with loggers too, their loggers are brought down as well instead of
// being left to exit on EOF.
func (s *Scanner) prune(loggers bool) {
	for _, k := range s.order {
		p := s.pairs[k]
		if p.active {
			continue
		}
		if p.main != nil {
			p.main.Control("dx")
		} else {
			s.closeWriter(p)
		}
		if p.log != nil {
			if loggers {
				p.log.Control("dx")
			} else {
				p.log.Control("x")
			}
		}
	}
}

func (s *Scanner) closeWriter(p *pair) {
	if p.pipeW != nil {
		p.pipeW.Close()
		p.pipeW = nil
	}
}

func (s *Scanner) serviceDone(d done) {
	p := d.p
	if d.isLog {
		p.log = nil
	} else {
		p.main = nil
		if !p.active || s.exiting != 0 {
			// Nothing will write to the logger any more once the
			// service's own processes are gone: let it see EOF.
			s.closeWriter(p)
		}
	}
	s.schedule(p)
	if p.main == nil && p.log == nil && (!p.active || s.exiting != 0) {
		if p.pipeR != nil {
			p.pipeR.Close()
		}
		s.closeWriter(p)
		delete(s.pairs, p.key)
		for i, k := range s.order {
			if k == p.key {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
	s.doneWithCatchAll()
}

// scan reads the scan directory, starts supervising new services and
// marks vanished ones inactive. A service that cannot be supervised is
// reported once per scan and skipped; it never disturbs the others.
func (s *Scanner) scan() {
	s.scans.Add(1)
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		s.logf("scan dir %s: %v (keeping the current services; trying again in %v)", s.opts.Dir, explain(err), rescanDelay)
		s.rescanLater()
		return
	}
	seen := map[key]bool{}
	added := 0
	// A new entry is validated and started by a worker (below); it joins
	// s.pairs only if it was valid.
	type todo struct {
		p     *pair
		dir   string
		fresh bool   // not in s.pairs yet: validate first
		ok    bool   // fresh and valid
		retry bool   // fresh, and invalid for want of resources
		why   string // fresh and invalid: the report
		key   string // and its reportKey
	}
	var starts []todo
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		dir := filepath.Join(s.opts.Dir, name)
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			s.logf("service %s: %v", dir, err)
			continue
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue
		}
		k := key{st.Dev, st.Ino}
		if seen[k] {
			continue // two names for one directory: supervise it once
		}
		seen[k] = true
		p := s.pairs[k]
		if p == nil {
			starts = append(starts, todo{p: &pair{name: name, key: k, active: true}, dir: dir, fresh: true})
			continue
		}
		p.active = true
		p.name = name // renamed: restarts look for it here
		if p.main == nil || (p.log == nil && p.pipeR != nil) {
			starts = append(starts, todo{p: p, dir: dir})
		}
	}
	for k, p := range s.pairs {
		if !seen[k] {
			p.active = false
		}
	}
	one := func(t *todo) {
		if t.fresh {
			if t.ok, t.retry, t.why, t.key = s.validate(t.p, t.dir); !t.ok {
				return
			}
			// What the last scan said of it is not news (s.refused is
			// only read while the workers run).
			t.p.reported = s.refused[t.p.key]
		}
		s.start(t.p, t.dir)
	}
	// Setting up a service is a few dozen file system calls and a fork:
	// with many to start, spread them over the processors (each pair is
	// validated and set up by one worker; forks may run concurrently).
	workers := 2 * runtime.GOMAXPROCS(0)
	if workers > 8 {
		workers = 8
	}
	if len(starts) < 8 || workers < 2 {
		for i := range starts {
			one(&starts[i])
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= len(starts) {
						return
					}
					one(&starts[i])
				}
			}()
		}
		wg.Wait()
	}
	refused := map[key]string{}
	for _, t := range starts {
		if t.ok {
			s.pairs[t.p.key] = t.p
			s.order = append(s.order, t.p.key)
			added++
		}
		if t.retry {
			s.rescanLater()
		}
		if t.why != "" {
			if s.refused[t.p.key] != t.key {
				s.logf("%s", t.why) // once until it changes
			}
			refused[t.p.key] = t.key
		}
		if t.ok || !t.fresh {
			s.schedule(t.p) // a supervisor that could not be set up
		}
	}
	s.refused = refused
	if added >= 16 {
		// Starting many services leaves garbage the collector would only
		// reclaim once the heap doubled: give it back now they are up.
		debug.FreeOSMemory()
	}
}

// rescanLater asks for a scan in rescanDelay, after one that could not
// read the scan directory or set up a service for want of resources.
func (s *Scanner) rescanLater() {
	if s.restartT == nil || s.exiting != 0 || !s.rescanAt.IsZero() {
		return
	}
	s.rescanAt = time.Now().Add(rescanDelay)
	s.wake(s.rescanAt)
}

// resourceError reports whether err is a want of descriptors or memory,
// which goes away by itself or when the administrator raises a limit,
// rather than a mistake in a service directory.
func resourceError(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ENOMEM)
}

// reportKey says when a failure to supervise a service is news: a want
// of descriptors or memory is the same news wherever it struck (a file
// of supervise/, the logger pipe...); anything else, when its message
// changes.
func reportKey(err error) string {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// explain adds to a want of descriptors which limit was reached and
// what raises it.
func explain(err error) error {
	switch {
	case errors.Is(err, syscall.EMFILE):
		var lim unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		return fmt.Errorf("%w: svscan has reached its limit of %d open descriptors (RLIMIT_NOFILE; "+
			"a service takes 3, a service with a logger 8): raise the hard limit before starting svscan "+
			"(ulimit -Hn, prlimit --nofile); as process 1 svscan raises it to fs.nr_open itself", err, lim.Cur)
	case errors.Is(err, syscall.ENFILE):
		return fmt.Errorf("%w: the system's limit of open files is reached (raise fs.file-max)", err)
	}
	return err
}

// validate reads a new service's configuration and makes its logger
// pipe. As under s6-svscan, a service is supervised whatever its files
// hold: its supervisor reports a malformed configuration file (and uses
// the default) and a ./run that cannot run (and retries it). Only a
// directory that cannot be read is refused; retry says it was for want
// of resources, not because of the service directory.
func (s *Scanner) validate(p *pair, dir string) (ok, retry bool, why, key string) {
	cfg, err := servicedir.Read(dir)
	if err == nil {
		p.cfg = &cfg
		if cfg.HasLog {
			var lcfg servicedir.Config
			lcfg, err = servicedir.Read(filepath.Join(dir, "log"))
			p.logCfg = &lcfg
		}
	}
	if err != nil {
		return false, resourceError(err), fmt.Sprintf("service %s not supervised: %v", dir, explain(err)), reportKey(err)
	}
	if cfg.HasLog {
		r, w, err := os.Pipe()
		if err != nil {
			return false, resourceError(err), fmt.Sprintf("service %s not supervised: cannot create the pipe to its logger: %v", dir, explain(err)), reportKey(err)
		}
		p.pipeR, p.pipeW = r, w
	}
	return true, false, "", ""
}

// start (re)creates the supervisors a pair lacks.
func (s *Scanner) start(p *pair, dir string) {
	if p.log == nil && p.pipeR != nil {
		p.logStarted = time.Now()
		p.log = s.supervise(p, filepath.Join(dir, "log"), p.name+"/log", p.pipeR, nil, p.logCfg, true)
		p.logCfg = nil
	}
	if p.main == nil {
		p.mainStarted = time.Now()
		p.main = s.supervise(p, dir, p.name, nil, p.pipeW, p.cfg, false)
		p.cfg = nil
	}
}

func (s *Scanner) supervise(p *pair, dir, name string, stdin, stdout *os.File, cfg *servicedir.Config, isLog bool) *supervise.Service {
	svc, err := supervise.New(dir, supervise.Options{Reaper: s.reaper, Poller: s.poller, Name: name, Stdin: stdin, Stdout: stdout, Config: cfg, Logf: s.logf, NoBackoff: s.opts.NoBackoff})
	if err != nil {
		if k := reportKey(err); p.reported != k {
			s.logf("%v (trying again every %v)", explain(err), restartGap)
			p.reported = k
		}
		return nil
	}
	p.reported = ""
	// Runs when supervision ends, once supervise/lock is released, on
	// whatever goroutine delivered the last event; it never blocks, so
	// the service's Done follows at once.
	svc.OnExit(func() {
		s.dqMu.Lock()
		s.dq = append(s.dq, done{p: p, isLog: isLog})
		s.dqMu.Unlock()
		select {
		case s.dqKick <- struct{}{}:
		default:
		}
	})
	svc.Start()
	return svc
}

func (s *Scanner) finish(stop chan struct{}) error {
	close(stop)
	s.control.Close()
	close(s.logq)
	<-s.logDone
	fin := filepath.Join(s.opts.Dir, ".s6-svscan", "finish")
	if servicedir.CheckExecutable(fin) == nil {
		s.lock.Close()
		if os.Getpid() == 1 {
			// An ignored SIGINT or SIGHUP stays ignored across execve, and
			// a Go program (execlineb, svinit-final) keeps it ignored at
			// start-up: a ctrl-alt-del in that instant cannot make
			// process 1 exit and panic the kernel.
			signal.Ignore(syscall.SIGINT, syscall.SIGHUP)
		}
		err := s.opts.Exec(fin, []string{fin}, os.Environ())
		fmt.Fprintf(s.opts.Stderr, "%s: cannot exec %s: %v\n", s.opts.Prog, fin, err)
	}
	if os.Getpid() == 1 {
		// PID 1 must not exit: the kernel would panic.
		fmt.Fprintf(s.opts.Stderr, "%s: PID 1 has nothing to exec into (%s is missing or failed): syncing and powering off\n", s.opts.Prog, fin)
		unix.Sync()
		for {
			unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
			time.Sleep(time.Second)
		}
	}
	return nil
}
