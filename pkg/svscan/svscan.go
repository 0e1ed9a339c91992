// Package svscan is an s6-svscan-compatible scanner that supervises every
// service of a scan directory in-process (a state machine per service, see
// package supervise) instead of one s6-supervise process per service.
// It scans on startup and on demand (control letter 'a', SIGALRM, SIGHUP),
// and polls only when asked to. For a service directory with a log/
// subdirectory it holds one pipe between the service and its logger for
// as long as either is supervised, so either can restart without losing
// a line.
//
// One goroutine, Run's, owns the scanner's state and acts on it, as
// s6-svscan does in its one loop with a few flags (see want). The files:
// svscan.go the loop, control.go the control FIFO and its letters,
// signals.go the signals, scan.go scanning and restarting supervisors,
// pairs.go services with their loggers and the pipes between them,
// pipes.go the pipes per consumer of s6-rc's pipelines (producer-for),
// catchall.go the catch-all logger at shutdown, pid1.go what only
// process 1 does, limits.go the descriptor limits, logs.go the
// scanner's own messages, root.go the switch to another root (R) and
// handover.go the re-exec in place with every service kept (U).
package svscan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/supervise"
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
	// NoCgroup runs every service without a cgroup of its own (svscan
	// -C): s6's behaviour, as svinit-no-cgroup does for one service.
	NoCgroup bool
}

// Scanner supervises a scan directory.
type Scanner struct {
	opts   Options
	pid1   bool
	reaper *reaper.Reaper
	poller *supervise.ControlPoller // reads every service's supervise/control
	lock   *os.File                 // .s6-svscan/lock
	// control is .s6-svscan/control, read by its own goroutine (control.go),
	// which a handover pauses (ctlPaused, ctlResume).
	control              *os.File
	ctlPaused, ctlResume chan struct{}
	// self is the running program, opened at start (-1: it could not
	// be): what svscanctl -X execs, after a root switch too.
	self int
	// The reaper's goroutine, stopped by closing reapStop; reapDone is
	// closed once it has returned.
	reapStop, reapDone chan struct{}

	// Everything below up to mu belongs to Run's goroutine.

	// The services: pairs by directory, order in which they were found.
	pairs map[key]*pair
	order []key
	// refused holds what the last scan reported for each service it
	// could not supervise, so that a rescan reports it only if it changed.
	refused map[key]string
	// want is what the loop must do next (s6-svscan's flags).
	want want
	// exiting is 0 until a 't' or 'q' is carried out, then that letter:
	// no scan any more, Run returns once every supervisor is gone.
	exiting byte
	// One timer wakes the loop for whatever is due first: supervisors to
	// start again (see pair.mainStarted), a rescan after a scan that
	// failed for want of resources (rescanAt), the next poll (pollAt).
	// timerAt is when it is set for (zero: not set).
	timer    *time.Timer
	timerAt  time.Time
	rescanAt time.Time
	pollAt   time.Time
	// During a shutdown as process 1 (catchall.go): a copy of the
	// catch-all logger's FIFO, and that logger's pair.
	keep     *os.File
	catchAll *pair
	// The pipes of s6-rc's pipelines, per consumer name (pipes.go).
	pipes pipeTable

	// What other goroutines hand to the loop, under mu: control letters
	// from the FIFO's reader and ends of supervision from the services'
	// OnExit callbacks. A send on wake (never blocking) says there is
	// something.
	mu       sync.Mutex
	in       want
	exits    []done
	wake     chan struct{}
	ctlState int // the control FIFO reader's (control.go)
	// reap makes the reaper collect zombies now ('z').
	reap chan struct{}

	// The scanner's own messages (logs.go).
	logq    chan string
	dropped atomic.Int64
	logDone chan struct{}
	errw    switchWriter

	// scans counts the scans performed, reads the reads of the control
	// FIFO that brought letters (tests read them).
	scans, reads atomic.Int64
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
	s := &Scanner{opts: opts, pid1: os.Getpid() == 1, reaper: reaper.New(), pairs: map[key]*pair{},
		wake: make(chan struct{}, 1), reap: make(chan struct{}, 1),
		logq: make(chan string, 4096), logDone: make(chan struct{}),
		ctlPaused: make(chan struct{}, 1), ctlResume: make(chan struct{}, 1), self: -1}
	s.errw.w = opts.Stderr
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	if fd, err := unix.Open("/proc/self/exe", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		s.self = fd
	}
	if h, ok := os.LookupEnv(HandoverEnv); ok {
		return s.newFromHandover(h)
	}
	s.reaper.NoFile = raiseFileLimit(s.pid1, s.logf)
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
	control, err := openControl(ctl)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("scan dir %s: %w", opts.Dir, err)
	}
	if s.poller, err = supervise.NewControlPoller(); err != nil {
		control.Close()
		lock.Close()
		return nil, fmt.Errorf("scan dir %s: %w", opts.Dir, err)
	}
	go s.poller.Run()
	s.lock, s.control = lock, control
	return s, nil
}

// Run scans and supervises until told to exit, then execs
// .s6-svscan/finish when it is executable. It returns only on exit.
//
// The loop: wait for one event (the control FIFO's letters or a
// supervisor's end, a signal, the timer), record what it asks for in
// s.want, then act on s.want.
func (s *Scanner) Run() error {
	// Signals first: a message New queued may meet a broken pipe (as
	// process 1 the catch-all FIFO has no reader yet), and an EPIPE on
	// descriptor 2 raises SIGPIPE, which must be caught by then.
	sigs, quiet := s.catchSignals()
	defer signal.Stop(sigs)
	defer signal.Stop(quiet)
	go s.writeLogs()
	s.startReaper()
	go s.readControl()
	defer s.timer.Stop()
	if s.opts.Poll > 0 {
		s.pollAt = time.Now().Add(s.opts.Poll)
		s.wakeAt(s.pollAt)
	}
	s.want.scan = true
	for s.act() {
		select {
		case <-s.wake:
			s.takeIn()
		case sig := <-sigs:
			s.signal(sig.(syscall.Signal))
		case <-quiet:
			// SIGPIPE, and as process 1 the fault signals: caught only
			// so that they cannot kill the scanner.
		case <-s.timer.C:
			s.timerAt = time.Time{}
			s.due()
		}
	}
	return s.finish()
}

// act carries out what s.want asks for, each once, in this order: scan,
// prune, reap, switch the root, re-exec, terminate or quit; 'b'
// overrides everything. It reports
// whether the loop goes on: false on 'b', or once every supervisor is
// gone after 't' or 'q'.
func (s *Scanner) act() bool {
	w := s.want
	s.want = want{}
	if w.unknown > 0 {
		s.logf("ignored %d byte(s) on %s/.s6-svscan/control that are not svscanctl commands", w.unknown, s.opts.Dir)
	}
	if w.abort {
		return false
	}
	if w.scan && s.exiting == 0 {
		s.scan()
	}
	if w.prune != 0 {
		s.prune(w.prune == 'N')
	}
	if w.reap {
		select {
		case s.reap <- struct{}{}:
		default:
		}
	}
	if (w.root || w.exec) && s.exiting != 0 {
		s.logf("ignored svscanctl -R, -X or -E: the scanner is exiting")
		w.root, w.exec = false, false
	}
	if w.root {
		s.switchRoot()
	}
	if w.exec {
		s.reexec(w)
	}
	if w.kill != 0 {
		s.stopAll(w.kill == 'q')
	}
	return s.exiting == 0 || !s.allDone()
}

// takeIn moves what other goroutines handed over into the loop's state.
func (s *Scanner) takeIn() {
	s.mu.Lock()
	in, exits := s.in, s.exits
	s.in, s.exits = want{}, nil
	s.mu.Unlock()
	s.want.merge(in)
	for _, d := range exits {
		s.serviceDone(d)
	}
}

// kick wakes the loop (from any goroutine).
func (s *Scanner) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// wakeAt makes sure the timer fires at or before t.
func (s *Scanner) wakeAt(t time.Time) {
	if !s.timerAt.IsZero() && !t.Before(s.timerAt) {
		return
	}
	s.timerAt = t
	s.timer.Reset(time.Until(t))
}

// due handles the timer: a poll or a rescan that is due asks for a scan
// (which also starts every supervisor a pair lacks); otherwise the
// supervisors due to be started again are.
func (s *Scanner) due() {
	now := time.Now()
	if !s.pollAt.IsZero() {
		if !now.Before(s.pollAt) {
			s.want.scan = true
			s.pollAt = now.Add(s.opts.Poll)
		}
		s.wakeAt(s.pollAt)
	}
	if s.exiting != 0 {
		return
	}
	if !s.rescanAt.IsZero() {
		if now.Before(s.rescanAt) {
			s.wakeAt(s.rescanAt)
		} else {
			s.rescanAt = time.Time{}
			s.want.scan = true
		}
	}
	if !s.want.scan {
		s.restartDue(now)
	}
}

// startReaper starts the reaper's goroutine.
func (s *Scanner) startReaper() {
	s.reapStop, s.reapDone = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		s.reaper.Run(stop, s.reap)
		close(done)
	}(s.reapStop, s.reapDone)
}

// stopReaper stops the reaper's goroutine and waits for it: no exit is
// collected any more (the exits it collected were delivered).
func (s *Scanner) stopReaper() {
	close(s.reapStop)
	<-s.reapDone
}

// finish ends Run: stops the goroutines, then execs .s6-svscan/finish.
func (s *Scanner) finish() error {
	s.stopReaper()
	s.control.Close()
	close(s.logq)
	<-s.logDone
	fin := filepath.Join(s.opts.Dir, ".s6-svscan", "finish")
	if servicedir.CheckExecutable(fin) == nil {
		s.lock.Close()
		if s.pid1 {
			beforeFinish()
		}
		err := s.opts.Exec(fin, []string{fin}, os.Environ())
		fmt.Fprintf(s.opts.Stderr, "%s: cannot exec %s: %v\n", s.opts.Prog, fin, err)
	}
	if s.pid1 {
		s.cannotExit(fin)
	}
	return nil
}
