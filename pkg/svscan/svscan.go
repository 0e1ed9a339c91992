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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
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
	letters chan []byte
	control *os.File
	lock    *os.File
	logq    chan string
	dropped atomic.Int64
	exiting byte // 0, 't' or 'q'
	kick    chan struct{}
	logDone chan struct{}
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
		letters: make(chan []byte, 16), logq: make(chan string, 4096), kick: make(chan struct{}, 1),
		logDone: make(chan struct{})}
	s.errw.w = opts.Stderr
	ctl := filepath.Join(opts.Dir, ".s6-svscan")
	if err := os.Mkdir(ctl, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("scan dir %s: cannot create .s6-svscan: %w", opts.Dir, err)
	}
	lock, err := supervise.TakeLock(filepath.Join(ctl, "lock"), 0o600)
	if errors.Is(err, supervise.ErrHeld) {
		return nil, fmt.Errorf("scan dir %s: another scanner is already running on it (.s6-svscan/lock is held)", opts.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("scan dir %s: .s6-svscan/lock: %w", opts.Dir, err)
	}
	cp := filepath.Join(ctl, "control")
	fd, err := supervise.OpenControlFIFO(cp)
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
	buf := make([]byte, 64)
	for {
		n, err := s.control.Read(buf)
		if n > 0 {
			s.letters <- append([]byte(nil), buf[:n]...)
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
	go s.writeLogs()
	stop := make(chan struct{})
	go s.reaper.Run(stop, s.kick)
	go s.readControl()
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, hooked...)
	// Broken pipes must not kill the scanner; the handler (unlike an
	// ignored disposition) is reset to the default in children.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	go func() {
		for range pipes {
		}
	}()
	var tick <-chan time.Time
	if s.opts.Poll > 0 {
		t := time.NewTicker(s.opts.Poll)
		defer t.Stop()
		tick = t.C
	}
	s.scan()
	abort := false
	for !abort {
		if s.exiting != 0 && s.allDone() {
			break
		}
		select {
		case letters := <-s.letters:
			abort = s.commands(string(letters))
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
		case <-tick:
			if s.exiting == 0 {
				s.scan()
			}
		}
	}
	signal.Stop(sigs)
	return s.finish(stop)
}

func (s *Scanner) signal(sig syscall.Signal) bool {
	name := servicedir.SignalName(sig)
	hook := filepath.Join(s.opts.Dir, ".s6-svscan", name)
	if servicedir.CheckExecutable(hook) == nil {
		attr := &syscall.ProcAttr{Dir: s.opts.Dir, Env: os.Environ(), Files: []uintptr{0, 1, 2}}
		if _, err := s.reaper.Spawn(hook, []string{hook}, attr, nil); err != nil {
			s.logf("cannot run %s for %s: %v", hook, name, err)
		}
		return false
	}
	if a, ok := defaultAction[sig]; ok {
		return s.commands(a)
	}
	return false
}

// commands applies .s6-svscan/control letters; it reports whether the
// scanner must exec its finish script right away ('b').
func (s *Scanner) commands(letters string) bool {
	unknown := 0
	for i := 0; i < len(letters); i++ {
		switch c := letters[i]; c {
		case 'a':
			if s.exiting == 0 {
				s.scan()
			}
		case 'h':
			if s.exiting == 0 {
				s.scan()
				s.prune(false)
			}
		case 'n':
			s.prune(false)
		case 'N':
			s.prune(true)
		case 't', 'i', 'q':
			s.stopAll(c == 'q')
		case 'b':
			return true
		case 'z':
			select {
			case s.kick <- struct{}{}:
			default:
			}
		case '\n':
		default:
			unknown++
		}
	}
	if unknown > 0 {
		s.logf("ignored %d byte(s) on %s/.s6-svscan/control that are not svscanctl commands", unknown, s.opts.Dir)
	}
	return false
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
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		s.logf("scan dir %s: %v (keeping the current services)", s.opts.Dir, err)
		return
	}
	seen := map[key]bool{}
	added := 0
	// A new entry is validated and started by a worker (below); it joins
	// s.pairs only if it was valid.
	type todo struct {
		p     *pair
		dir   string
		fresh bool // not in s.pairs yet: validate first
		ok    bool // fresh and valid
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
			if t.ok = s.validate(t.p, t.dir); !t.ok {
				return
			}
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
	for _, t := range starts {
		if t.ok {
			s.pairs[t.p.key] = t.p
			s.order = append(s.order, t.p.key)
			added++
		}
	}
	if added >= 16 {
		// Starting many services leaves garbage the collector would only
		// reclaim once the heap doubled: give it back now they are up.
		debug.FreeOSMemory()
	}
}

func (s *Scanner) validate(p *pair, dir string) bool {
	cfg, err := servicedir.Load(dir)
	if err == nil {
		p.cfg = &cfg
		if cfg.HasLog {
			var lcfg servicedir.Config
			lcfg, err = servicedir.Load(filepath.Join(dir, "log"))
			p.logCfg = &lcfg
		}
	}
	if err != nil {
		s.logf("service %s not supervised: %v", dir, err)
		return false
	}
	if cfg.HasLog {
		r, w, err := os.Pipe()
		if err != nil {
			s.logf("service %s not supervised: cannot create the pipe to its logger: %v", dir, err)
			return false
		}
		p.pipeR, p.pipeW = r, w
	}
	return true
}

// start (re)creates the supervisors a pair lacks.
func (s *Scanner) start(p *pair, dir string) {
	if p.log == nil && p.pipeR != nil {
		p.log = s.supervise(p, filepath.Join(dir, "log"), p.name+"/log", p.pipeR, nil, p.logCfg, true)
		p.logCfg = nil
	}
	if p.main == nil {
		p.main = s.supervise(p, dir, p.name, nil, p.pipeW, p.cfg, false)
		p.cfg = nil
	}
}

func (s *Scanner) supervise(p *pair, dir, name string, stdin, stdout *os.File, cfg *servicedir.Config, isLog bool) *supervise.Service {
	svc, err := supervise.New(dir, supervise.Options{Reaper: s.reaper, Poller: s.poller, Name: name, Stdin: stdin, Stdout: stdout, Config: cfg, Logf: s.logf})
	if err != nil {
		if p.reported != err.Error() {
			s.logf("%v", err)
			p.reported = err.Error()
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
