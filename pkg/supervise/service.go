// Package supervise supervises one s6 service directory in-process: the
// state machine of s6-supervise (down, up, finishing, and their "exit
// when done" variants), with s6's on-disk interface: supervise/lock
// (POSIX lock held while supervised), supervise/control (one-letter
// commands), supervise/status (35 bytes), supervise/death_tally,
// supervise/service-lock (lock-fd), and the event/ fifodir. Children are spawned and reaped through a shared
// reaper.Reaper, so many services can live in one process (svscan).
//
// A Service has no goroutine of its own: it is a state machine behind a
// mutex, driven by whoever has news for it: the control poller (letters
// on supervise/control), the reaper (a child's exit), a timer, the
// reader of its notification pipe, or the caller (Start, Control). A
// scanner with a thousand services pays for a thousand small structs,
// not a thousand goroutine stacks.
//
// Nothing a service directory holds can block those shared goroutines:
// every file read from it is opened O_NONBLOCK and read with a small
// bound (package servicedir), every file made in supervise/ is opened
// O_NOFOLLOW|O_NONBLOCK and checked on its descriptor, and a planted
// symbolic link is never followed to chown, chmod or write what it
// points to.
package supervise

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/fifodir"
	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/s6status"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// Event bytes written to event/, as s6-supervise writes them.
const (
	EventStart    = 's' // supervisor started
	EventUp       = 'u' // ./run spawned
	EventReady    = 'U' // ./run notified readiness
	EventDown     = 'd' // ./run died
	EventDownDone = 'D' // ./finish done (or none): really down
	EventPermFail = 'O' // ./finish exited 125: will not restart
	EventExit     = 'x' // supervisor exiting
)

// Timings s6-supervise uses.
const (
	SpawnGap        = time.Second      // minimum time between two automatic spawns
	SpawnRetryDelay = 10 * time.Second // after ./run could not be spawned
	SetupRetryDelay = 60 * time.Second // after a pipe or supervise/service-lock could not be made
	// LockRetryDelay: while supervise/service-lock (lock-fd) is held by
	// a previous instance of the service, how often it is tried again.
	LockRetryDelay  = 250 * time.Millisecond
	finishKillGrace = 3 * time.Second // after SIGKILLing a finish that overran
	PermanentFail   = 125             // ./finish exit code meaning "do not restart"
)

// Options configure a Service.
type Options struct {
	Reaper *reaper.Reaper
	// Name is passed to ./run as its argument and to ./finish as its
	// third, as s6-supervise passes the name it was given (a scanner
	// gives "foo" or "foo/log"); empty: the directory as given to New.
	Name string
	// Stdin, Stdout, Stderr are given to ./run and ./finish; nil means the
	// process's own descriptor 0, 1 or 2.
	Stdin, Stdout, Stderr *os.File
	// Env is the environment of ./run and ./finish; nil means os.Environ().
	Env []string
	// Logf reports problems; it must not block for long.
	Logf func(format string, a ...any)
	// Poller reads supervise/control; services of one process share one.
	// Nil: the service gets a poller of its own.
	Poller *ControlPoller
	// Config, when the caller has just read the service directory (a
	// scanner validating a new service), is used for the first start
	// instead of reading it again; later starts always reread it.
	Config *servicedir.Config
}

type state int

const (
	stDown state = iota
	stUp
	stFinish
	stLastUp     // up; exit once it is down
	stLastFinish // finishing; exit once done
)

// Service is one supervised service directory.
type Service struct {
	dir  string // as given, for messages
	root string // the directory itself, stable across renames
	dfd  int    // the directory, open; keeps root valid
	opts Options

	// mu guards everything below; every event takes it (see do).
	mu      sync.Mutex
	started bool              // Start was called
	ended   bool              // supervision has ended (done is closed)
	lock    int               // supervise/lock, locked; -1 if none
	control int               // supervise/control, read by the poller; -1 if none
	ownPoll bool              // the poller is this service's own
	done    chan struct{}     // closed when supervision has ended
	status  s6status.Status   // what supervise/status says
	st      state             //
	pid     int               // ./run or ./finish pid, 0 if none
	gen     int               // spawn generation, for readiness events
	notify  *os.File          // read end of the notification pipe of generation gen, or nil
	cfg     servicedir.Config // as read at the last spawn
	timer   *time.Timer       // respawn delay or finish timeout (nil until first used)
	killer  *time.Timer       // timeout-kill (nil until first used)
	tgen    uint32            // timer generation: a timer that fired late is ignored
	kgen    uint32            // killer generation
	spawned time.Time         // last spawn of ./run
	lastErr string            // last reported spawn error, to avoid repeats
	warned  map[string]bool   // configuration warnings already reported
	lockMsg bool              // "service-lock held" reported for this wait
	devnull *os.File          // stdio of the last ./finish
	defOut  *os.File          // 1 and 2 where opts has none (SetDefaultOutput)
	bail    bool              // leave the loop
	onExit  []func()          // run when supervision ends
	unknown int               // unknown control bytes not yet reported
	logQ    func(string, ...any)
	// fromFIFO: the letters being applied came from supervise/control.
	fromFIFO bool
	// quietEnd: 'x' came from supervise/control, so the last ./finish
	// gets /dev/null as stdio.
	quietEnd bool
}

// ErrLocked means another supervisor holds the service's lock.
var ErrLocked = errors.New("already supervised (supervise/lock is held by another process)")

// New prepares dir for supervision: it creates the event/ fifodir
// (03730) and supervise/ (0700) if they do not exist (through a symbolic
// link only to create its missing target, as s6-supervise), takes
// supervise/lock, starts a new supervise/death_tally, writes the initial
// status, opens the control FIFO (0600 when created) and announces 's'.
// It does not start ./run; Run does.
func New(dir string, opts Options) (*Service, error) {
	if opts.Reaper == nil {
		return nil, errors.New("supervise: no reaper")
	}
	if opts.Name == "" {
		opts.Name = dir
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Service{dir: dir, opts: opts, control: -1, lock: -1, dfd: -1, done: make(chan struct{})}
	s.logQ = func(f string, a ...any) { opts.Logf("service %s: "+f, append([]any{dir}, a...)...) }
	// Work through a descriptor of the directory, as s6-supervise works
	// from inside it, so that renaming the directory changes nothing.
	// Raw *at system calls on it: the scanner sets up every new service
	// this way, and os.File would add five calls per file opened.
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("service dir %s: %w", dir, err)
	}
	s.dfd, s.root = dfd, dir
	if procFD() {
		s.root = "/proc/self/fd/" + strconv.Itoa(dfd)
	}
	fail := func(err error) (*Service, error) {
		s.release()
		return nil, fmt.Errorf("service dir %s: %w", s.dir, err)
	}
	// event/ first, then supervise/, as s6-supervise makes them. A new
	// event/ is opened to the supervisor's group (03730); one already
	// there keeps its rights (s6-svperms may have set them).
	efd, created, err := makeDir(dfd, "event")
	if err != nil {
		return fail(fmt.Errorf("event/: %w", err))
	}
	if created {
		err = unix.Fchown(efd, -1, os.Getegid())
		if err == nil {
			err = unix.Fchmod(efd, 0o3730)
		}
	}
	unix.Close(efd)
	if err != nil {
		return fail(fmt.Errorf("event/: %w", err))
	}
	sfd, created, err := makeDir(dfd, "supervise")
	if err != nil {
		return fail(fmt.Errorf("supervise/: %w", err))
	}
	if created {
		unix.Fchmod(sfd, 0o700) // exactly, whatever the umask
	}
	lock, err := TakeLockAt(sfd, "lock", 0o644)
	if err != nil {
		unix.Close(sfd)
		if errors.Is(err, ErrHeld) {
			return fail(ErrLocked)
		}
		return fail(fmt.Errorf("supervise/lock: %w", err))
	}
	s.lock = lock
	// s6-supervise 2.11 starts a new tally (it truncates the file).
	err = s6status.ReplaceAt(sfd, "death_tally", nil)
	if err != nil {
		s.logQ("supervise/death_tally: %v", err)
	}
	// The status first: a client that sees the service supervised (the
	// lock, the control FIFO) or subscribes to event/ must find it.
	// ./down as s6-supervise tests it: access(F_OK), through links.
	var st unix.Stat_t
	downErr := unix.Fstatat(dfd, "down", &st, 0)
	now := tai64n.Now()
	s.status = s6status.Status{Stamp: now, ReadyStamp: now, WantUp: downErr != nil, Ready: true}
	if err := s6status.WriteAt(dfd, &s.status); err != nil {
		unix.Close(sfd)
		return fail(fmt.Errorf("write supervise/status: %w", err))
	}
	cfd, err := OpenControlFIFOAt(sfd, "control")
	unix.Close(sfd)
	if err != nil {
		return fail(fmt.Errorf("supervise/control: %w", err))
	}
	if s.opts.Poller == nil {
		p, err := NewControlPoller()
		if err != nil {
			unix.Close(cfd)
			return fail(fmt.Errorf("epoll for supervise/control: %w", err))
		}
		s.opts.Poller, s.ownPoll = p, true
		go p.Run()
	}
	if err := s.opts.Poller.add(cfd, s); err != nil {
		unix.Close(cfd)
		return fail(fmt.Errorf("watch supervise/control: %w", err))
	}
	s.control = cfd
	// No fifodir.Clean: the 's' event below reaches every live listener
	// and removes the dead ones.
	s.event(EventStart)
	return s, nil
}

var (
	procOnce sync.Once
	procOK   bool
)

// procFD reports whether /proc/self/fd works, so that a service's
// directory can be named through its descriptor (./run is spawned there,
// ./down is created there).
func procFD() bool {
	procOnce.Do(func() {
		var st unix.Stat_t
		procOK = unix.Stat("/proc/self/fd", &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR
	})
	return procOK
}

// Dir is the service directory.
func (s *Service) Dir() string { return s.dir }

// Done is closed when supervision has ended (after 'x').
func (s *Service) Done() <-chan struct{} { return s.done }

// Control applies letters as if written to supervise/control (except
// that 'x' keeps the supervisor's stdio for the last ./finish). It does
// nothing once supervision has ended.
func (s *Service) Control(letters string) {
	s.do(func() {
		s.fromFIFO = false
		s.apply([]byte(letters))
	})
}

// OnExit registers f to run when supervision ends. Call it before Start;
// f runs with the service locked and must not block or call back into it.
func (s *Service) OnExit(f func()) { s.onExit = append(s.onExit, f) }

// controlFIFO is called by the poller with bytes read from the FIFO.
func (s *Service) controlFIFO(b []byte) {
	s.do(func() {
		s.fromFIFO = true
		s.apply(b)
	})
}

// apply runs control letters in order.
func (s *Service) apply(letters []byte) {
	for _, c := range letters {
		s.command(c)
	}
	if s.unknown > 0 {
		s.logQ("ignored %d byte(s) on supervise/control that are not s6-svc commands", s.unknown)
		s.unknown = 0
	}
}

// Start begins supervision: ./run is started at once unless ./down
// exists (or a 'd' came first). It returns at once.
func (s *Service) Start() {
	s.do(func() {
		if s.started {
			return
		}
		s.started = true
		if s.status.WantUp && s.st == stDown {
			s.tryStart()
		}
	})
}

// Run starts supervision and returns once it has ended (after 'x').
func (s *Service) Run() {
	s.Start()
	<-s.done
}

// do runs one event with the service locked, unless supervision has
// ended. A panic in it is reported and supervision goes on; it never
// reaches the goroutine that delivered the event (the reaper's, the
// poller's), which other services share.
func (s *Service) do(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.safe(f)
	if s.bail {
		s.safe(s.finishUp)
	}
}

// safe runs f, turning a panic into a message.
func (s *Service) safe(f func()) {
	defer func() {
		if r := recover(); r != nil {
			s.logQ("internal error, supervision continues: %v\n%s", r, debug.Stack())
		}
	}()
	f()
}

func (s *Service) finishUp() {
	if s.ended {
		return
	}
	s.ended = true
	s.stopTimer()
	s.stopKiller()
	s.event(EventExit)
	s.release()
	for _, f := range s.onExit {
		f()
	}
	close(s.done)
}

func (s *Service) release() {
	if s.control >= 0 {
		s.opts.Poller.remove(s.control)
		s.control = -1
	}
	if s.ownPoll {
		s.opts.Poller.Close()
	}
	if s.lock >= 0 {
		unix.Close(s.lock) // drops the lock
		s.lock = -1
	}
	if s.devnull != nil {
		s.devnull.Close()
	}
	s.closeNotify()
	if s.dfd >= 0 {
		unix.Close(s.dfd)
		s.dfd = -1
	}
}

func (s *Service) announce() {
	if err := s6status.WriteAt(s.dfd, &s.status); err != nil {
		s.logQ("write supervise/status: %v", err)
	}
}

func (s *Service) event(ev byte) {
	fifodir.NotifyAt(s.dfd, "event", []byte{ev})
}

// setTimer arms the respawn delay or the finish timeout, replacing the
// one armed before.
func (s *Service) setTimer(d time.Duration) {
	s.stopTimer()
	g := s.tgen
	s.timer = time.AfterFunc(d, func() {
		s.do(func() {
			if s.tgen == g {
				s.timeout()
			}
		})
	})
}

func (s *Service) stopTimer() {
	s.tgen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// setKiller arms timeout-kill.
func (s *Service) setKiller(d time.Duration) {
	s.stopKiller()
	g := s.kgen
	s.killer = time.AfterFunc(d, func() {
		s.do(func() {
			if s.kgen == g && (s.st == stUp || s.st == stLastUp) && s.pid > 0 {
				s.logQ("still up %v after the down signal: sending SIGKILL (timeout-kill)", s.cfg.TimeoutKill)
				syscall.Kill(s.pid, syscall.SIGKILL)
			}
		})
	})
}

func (s *Service) stopKiller() {
	s.kgen++
	if s.killer != nil {
		s.killer.Stop()
		s.killer = nil
	}
}

var signalLetters = map[byte]syscall.Signal{
	'a': syscall.SIGALRM, 'b': syscall.SIGABRT, 'q': syscall.SIGQUIT, 'h': syscall.SIGHUP,
	'k': syscall.SIGKILL, 't': syscall.SIGTERM, 'i': syscall.SIGINT, '1': syscall.SIGUSR1,
	'2': syscall.SIGUSR2, 'p': syscall.SIGSTOP, 'c': syscall.SIGCONT, 'y': syscall.SIGWINCH,
}

var groupLetters = map[byte]syscall.Signal{'P': syscall.SIGSTOP, 'C': syscall.SIGCONT, 'K': syscall.SIGKILL}

// command applies one control letter in the current state.
func (s *Service) command(c byte) {
	up := s.st == stUp || s.st == stLastUp
	switch {
	case signalLetters[c] != 0:
		if up {
			syscall.Kill(s.pid, signalLetters[c])
			if c == 'p' || c == 'c' {
				s.status.Paused = c == 'p'
				s.announce()
			}
		}
		return
	case groupLetters[c] != 0:
		if up {
			syscall.Kill(-s.pid, groupLetters[c])
			if c == 'P' || c == 'C' {
				s.status.Paused = c == 'P'
				s.announce()
			}
		}
		return
	}
	switch c {
	case 'u':
		s.status.WantUp = true
		s.announce()
		if s.st == stDown {
			s.stopTimer()
			s.tryStart()
		}
	case 'd':
		s.status.WantUp = false
		s.announce()
		if up {
			s.sendDown()
		}
	case 'o', 'O':
		s.status.WantUp = false
		s.announce()
		if c == 'o' && s.st == stDown {
			s.stopTimer()
			s.tryStart()
		}
	case 'r':
		// As s6-supervise: the down signal alone (no SIGCONT, no
		// timeout-kill); the service restarts when it dies.
		if up {
			syscall.Kill(s.pid, s.downSignal())
		}
	case 'x':
		// As s6-supervise: "svc -x" also closes the supervisor's stdio,
		// so the last ./finish runs on /dev/null; a scanner stopping
		// (svscanctl -t, like SIGTERM to s6-supervise) keeps it.
		if s.fromFIFO {
			s.quietEnd = true
		}
		switch s.st {
		case stDown:
			s.bail = true
		case stUp:
			s.st = stLastUp
		case stFinish:
			s.st = stLastFinish
		}
	case 'D', 'U':
		// As s6-supervise 2.11: D creates ./down then acts as d; U
		// removes ./down then acts as u.
		// Neither follows a link nor waits on a FIFO found there: the
		// poller's goroutine is every service's.
		if c == 'D' {
			s.createDown()
			s.command('d')
		} else {
			if err := unix.Unlinkat(s.dfd, "down", 0); err != nil && err != unix.ENOENT {
				s.logQ("remove ./down: %v", err)
			}
			s.command('u')
		}
	case 'Q':
		// s6-supervise 2.11: once at most, and ./down: like D without
		// stopping the service.
		s.createDown()
		s.status.WantUp = false
		s.announce()
	case 's', 'X', 'T', 'w', '\n':
		// s6-svc options that act on the client side, or newer s6
		// letters this supervisor ignores harmlessly.
	default:
		s.unknown++
	}
}

// createDown creates ./down, never through a link nor waiting on a FIFO
// (the poller's goroutine is every service's).
func (s *Service) createDown() {
	fd, err := unix.Openat(s.dfd, "down", unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o644)
	switch err {
	case nil:
		unix.Close(fd)
	case unix.ELOOP, unix.ENXIO, unix.EISDIR, unix.ETXTBSY:
		// Something is there already (a link, a FIFO, a directory).
	default:
		s.logQ("create ./down: %v", err)
	}
}

// sendDown sends the down signal then SIGCONT, and arms timeout-kill;
// down-signal and timeout-kill are read now, as s6-supervise reads them.
func (s *Service) sendDown() {
	c := s.reread(servicedir.DownSignal, servicedir.TimeoutKill)
	syscall.Kill(s.pid, c.DownSignal)
	syscall.Kill(s.pid, syscall.SIGCONT)
	if s.status.Paused {
		s.status.Paused = false
		s.announce()
	}
	s.cfg.TimeoutKill = c.TimeoutKill
	if c.TimeoutKill > 0 {
		s.setKiller(c.TimeoutKill)
	}
}

// downSignal reads down-signal.
func (s *Service) downSignal() syscall.Signal {
	return s.reread(servicedir.DownSignal).DownSignal
}

// reread reads the named files of the service directory (without
// blocking: see package servicedir) and reports what cannot be used.
func (s *Service) reread(names ...string) servicedir.Config {
	c := servicedir.ReadFiles(s.dfd, s.dir, names...)
	s.warn(c.Warnings)
	return c
}

// warn reports configuration warnings, each once until it goes away (a
// crash loop rereads the files every second).
func (s *Service) warn(ws []string) {
	for _, w := range ws {
		if !s.warned[w] {
			s.logQ("%s", w)
			if s.warned == nil {
				s.warned = map[string]bool{}
			}
			s.warned[w] = true
		}
	}
}

func (s *Service) stdio() []uintptr {
	f := func(f *os.File, def uintptr) uintptr {
		if f == nil {
			return def
		}
		return f.Fd()
	}
	out, err := f(s.opts.Stdout, 1), f(s.opts.Stderr, 2)
	if s.defOut != nil {
		out, err = f(s.opts.Stdout, s.defOut.Fd()), f(s.opts.Stderr, s.defOut.Fd())
	}
	return []uintptr{f(s.opts.Stdin, 0), out, err}
}

// SetDefaultOutput makes f descriptors 1 and 2 of the ./run and ./finish
// spawned from now on, where Options gave none (nil: the process's own 1
// and 2 again). A scanner shutting down as PID 1 uses it to keep the last
// ./finish scripts writing to the catch-all logger once its own output
// has left it. f must stay open while the service may spawn.
func (s *Service) SetDefaultOutput(f *os.File) {
	s.do(func() { s.defOut = f })
}

func (s *Service) env() []string {
	if s.opts.Env != nil {
		return s.opts.Env
	}
	return os.Environ()
}

// tryStart spawns ./run, as s6-supervise's trystart: the service
// directory is read again (notification-fd, lock-fd...), ./run gets the
// service name as its argument, the notification pipe's write end at
// notification-fd and supervise/service-lock, locked, at lock-fd.
func (s *Service) tryStart() {
	var cfg servicedir.Config
	if s.opts.Config != nil {
		cfg, s.opts.Config = *s.opts.Config, nil
	} else {
		var err error
		if cfg, err = servicedir.ReadAt(s.dfd, s.dir); err != nil {
			s.spawnFailed(err.Error(), SpawnRetryDelay)
			return
		}
		s.warned = keep(s.warned, cfg.Warnings)
	}
	s.warn(cfg.Warnings)
	if cfg.RunErr != nil {
		s.spawnFailed(cfg.RunErr.Error(), SpawnRetryDelay)
		return
	}
	s.cfg = cfg
	files := s.stdio()
	if high := max(cfg.NotificationFd, cfg.LockFd); high >= len(files) {
		// A descriptor the child cannot have would fail its spawn (as
		// s6's dup2 fails); checked first, so that no huge table is built.
		var lim unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && uint64(high) >= lim.Cur {
			name := servicedir.NotificationFd
			if high == cfg.LockFd {
				name = servicedir.LockFd
			}
			s.spawnFailed(fmt.Sprintf("%s: %d is not below the descriptor limit %d (ulimit -n)", filepath.Join(s.dir, name), high, lim.Cur), SpawnRetryDelay)
			return
		}
		for len(files) <= high {
			files = append(files, ^uintptr(0))
		}
	}
	var lock *os.File
	if cfg.LockFd >= 0 {
		if cfg.LockFd == cfg.NotificationFd {
			// s6-supervise waits for a command then.
			s.logQ("cannot start: %s and %s are both %d (fix one, then svc -u)", servicedir.NotificationFd, servicedir.LockFd, cfg.LockFd)
			s.st = stDown
			s.stopTimer()
			return
		}
		var ok bool
		if lock, ok = s.serviceLock(); !ok {
			return
		}
		defer lock.Close() // the child's copy holds the lock
		files[cfg.LockFd] = lock.Fd()
	}
	var nr, nw *os.File
	if cfg.NotificationFd >= 0 {
		r, w, err := os.Pipe()
		if err != nil {
			s.spawnFailed(fmt.Sprintf("pipe for notification-fd: %v", err), SetupRetryDelay)
			return
		}
		nr, nw = r, w
		// At that number in the child, whatever it is: for 1, the
		// service's stdout is the pipe (s6-fdholder-daemon -1).
		files[cfg.NotificationFd] = nw.Fd()
	}
	attr := &syscall.ProcAttr{Dir: s.root, Env: s.env(), Files: files, Sys: &syscall.SysProcAttr{Setsid: true}}
	pid, err := s.opts.Reaper.Spawn("./run", []string{"./run", s.opts.Name}, attr, s.childExited)
	if nw != nil {
		nw.Close()
	}
	if err != nil {
		if nr != nil {
			nr.Close()
		}
		s.spawnFailed(fmt.Sprintf("cannot spawn ./run: %v", err), SpawnRetryDelay)
		return
	}
	s.lastErr = ""
	s.lockMsg = false
	s.gen++
	s.closeNotify()
	if nr != nil {
		s.notify = nr
		go s.readReady(nr, s.gen)
	}
	s.st = stUp
	s.pid = pid
	s.spawned = time.Now()
	s.status.Pid = uint64(pid)
	s.status.Stamp = tai64n.FromTime(s.spawned)
	s.status.Ready = false
	s.status.Paused = false
	s.announce()
	s.event(EventUp)
}

// keep returns the warnings of warned that are still in ws: one that went
// away and comes back is reported again.
func keep(warned map[string]bool, ws []string) map[string]bool {
	if len(warned) == 0 {
		return warned
	}
	still := map[string]bool{}
	for _, w := range ws {
		if warned[w] {
			still[w] = true
		}
	}
	return still
}

// serviceLock opens and locks supervise/service-lock for lock-fd, as
// s6-supervise: created if needed, emptied (with a warning) if a previous
// instance wrote to it. While another process holds the lock (a previous
// instance of the service still running), ./run is not started: it is
// tried again every LockRetryDelay.
func (s *Service) serviceLock() (*os.File, bool) {
	const name = "supervise/service-lock"
	fd, err := openRegular(s.dfd, name, unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		s.spawnFailed(fmt.Sprintf("%s (lock-fd): %v", name, err), SetupRetryDelay)
		return nil, false
	}
	f := os.NewFile(uintptr(fd), name)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > 0 {
		unix.Ftruncate(fd, 0)
		s.logQ("%s: a previous instance of the service wrote to it: emptied", name)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		f.Close()
		if err == unix.EAGAIN || err == unix.EACCES {
			if !s.lockMsg {
				s.logQ("%s is locked: another instance of the service is still running; ./run starts once it is released", name)
				s.lockMsg = true
			}
			s.st = stDown
			s.setTimer(LockRetryDelay)
			return nil, false
		}
		s.spawnFailed(fmt.Sprintf("lock %s: %v", name, err), SetupRetryDelay)
		return nil, false
	}
	return f, true
}

func (s *Service) spawnFailed(msg string, retry time.Duration) {
	if msg != s.lastErr {
		s.logQ("%s (retrying every %v)", msg, retry)
		s.lastErr = msg
	}
	s.st = stDown
	s.setTimer(retry)
}

// closeNotify closes the read end of the notification pipe: its reader
// goroutine ends, even while a background child of ./run keeps the
// write end open.
func (s *Service) closeNotify() {
	if s.notify != nil {
		s.notify.Close()
		s.notify = nil
	}
}

// readReady waits for a newline on the notification pipe, on a goroutine
// of its own that lives until the newline, the end of the pipe, or the
// death of ./run (which closes the pipe: see closeNotify).
func (s *Service) readReady(r *os.File, gen int) {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				s.do(func() { s.becameReady(gen) })
				return
			}
		}
		if err != nil {
			s.do(func() {
				if gen == s.gen {
					s.closeNotify()
				}
			})
			return
		}
	}
}

func (s *Service) becameReady(gen int) {
	if gen != s.gen || !(s.st == stUp || s.st == stLastUp) {
		return
	}
	s.closeNotify()
	s.status.Ready = true
	s.status.ReadyStamp = tai64n.Now()
	s.announce()
	s.event(EventReady)
}

// childExited is the reaper's callback for ./run and ./finish.
func (s *Service) childExited(e reaper.Exit) {
	s.do(func() { s.childExit(e) })
}

func (s *Service) childExit(e reaper.Exit) {
	if e.Pid != s.pid {
		return
	}
	switch s.st {
	case stUp, stLastUp:
		s.runDied(e.Status)
	case stFinish, stLastFinish:
		s.finishDone(e.Status)
	}
}

func (s *Service) runDied(ws syscall.WaitStatus) {
	s.stopKiller()
	dead := s.pid
	now := tai64n.Now()
	s.gen++ // a late readiness newline no longer counts
	s.status.Wstat = uint16(ws)
	s.status.Pid = 0
	s.status.Stamp = now
	s.status.Ready = false
	s.status.Paused = false
	s.pid = 0
	s.closeNotify()
	// Read now, as s6-supervise reads them when the service dies.
	// ./finish too: s6-supervise tries it at each death.
	c := s.reread(servicedir.MaxDeathTally, servicedir.TimeoutFinish, servicedir.Finish)
	s.cfg.MaxDeathTally, s.cfg.TimeoutFinish, s.cfg.HasFinish = c.MaxDeathTally, c.TimeoutFinish, c.HasFinish
	s.recordDeath(deathRecord(now, ws))
	last := s.st == stLastUp
	if s.cfg.HasFinish {
		if s.startFinish(ws, dead, last) {
			s.announce()
			s.event(EventDown)
			return
		}
	}
	s.announce()
	s.event(EventDown)
	s.reallyDown(last, false)
}

// recordDeath adds a record to supervise/death_tally, reread first (so
// that s6-svdt-clear works); a tally that cannot be read is started
// afresh, with a warning.
func (s *Service) recordDeath(rec [DeathRecordSize]byte) {
	tally, err := readDeaths(s.dfd, s.cfg.MaxDeathTally-1)
	if err != nil {
		s.logQ("%s: %v: starting a new tally", tallyFile, err)
		tally = nil
	}
	if _, err := appendDeath(s.dfd, tally, rec, s.cfg.MaxDeathTally); err != nil {
		s.logQ("%v", err)
	}
}

// startFinish spawns ./finish with s6's four arguments.
func (s *Service) startFinish(ws syscall.WaitStatus, deadPid int, last bool) bool {
	code, sig := ws.ExitStatus(), 0
	if ws.Signaled() {
		code, sig = 256, int(ws.Signal())
	}
	files := s.stdio()
	if last && s.quietEnd {
		// svc -x: the supervisor has let go of its stdio, as in s6.
		if s.devnull == nil {
			s.devnull, _ = os.OpenFile(os.DevNull, os.O_RDWR, 0)
		}
		if s.devnull != nil {
			files = []uintptr{s.devnull.Fd(), s.devnull.Fd(), s.devnull.Fd()}
		}
	}
	argv := []string{"./finish", strconv.Itoa(code), strconv.Itoa(sig), s.opts.Name, strconv.Itoa(deadPid)}
	attr := &syscall.ProcAttr{Dir: s.root, Env: s.env(), Files: files, Sys: &syscall.SysProcAttr{Setsid: true}}
	pid, err := s.opts.Reaper.Spawn("./finish", argv, attr, s.childExited)
	if err != nil {
		s.logQ("cannot spawn ./finish: %v", err)
		return false
	}
	s.pid = pid
	s.status.Pid = uint64(pid)
	s.status.Finishing = true
	if last {
		s.st = stLastFinish
	} else {
		s.st = stFinish
	}
	if s.cfg.TimeoutFinish > 0 {
		s.setTimer(s.cfg.TimeoutFinish)
	}
	return true
}

func (s *Service) finishDone(ws syscall.WaitStatus) {
	s.stopTimer()
	s.pid = 0
	s.status.Pid = 0
	s.status.Finishing = false
	perm := ws.Exited() && ws.ExitStatus() == PermanentFail
	if perm {
		s.status.WantUp = false
	}
	s.reallyDown(s.st == stLastFinish, perm)
}

// reallyDown marks the service down and ready-down, announces 'D' (and
// 'O' for a permanent failure), and respawns or exits.
func (s *Service) reallyDown(last, perm bool) {
	s.status.Ready = true
	s.status.ReadyStamp = tai64n.Now()
	s.announce()
	s.event(EventDownDone)
	if perm {
		s.logQ("./finish exited %d: permanent failure, not restarting", PermanentFail)
		s.event(EventPermFail)
	}
	s.st = stDown
	if last {
		s.bail = true
		return
	}
	if s.status.WantUp {
		// At most one start a second. s6-supervise 2.11 restarts at once
		// only a service that had been ready for a second, and waits a
		// second after any other; this restarts at once any service
		// started more than a second ago (docs/benchmarks.md: restart).
		wait := time.Until(s.spawned.Add(SpawnGap))
		if wait <= 0 {
			s.tryStart()
		} else {
			s.setTimer(wait)
		}
	}
}

func (s *Service) timeout() {
	switch s.st {
	case stDown:
		if s.status.WantUp {
			s.tryStart()
		}
	case stFinish, stLastFinish:
		if s.pid > 0 {
			s.logQ("./finish still running after %v (timeout-finish): killing it", s.cfg.TimeoutFinish)
			syscall.Kill(-s.pid, syscall.SIGKILL)
			syscall.Kill(s.pid, syscall.SIGKILL)
			s.setTimer(finishKillGrace)
		}
	}
}
