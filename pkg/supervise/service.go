// Package supervise supervises one s6 service directory in-process: the
// state machine of s6-supervise (down, up, finishing, and their "exit
// when done" variants), with s6's on-disk interface: supervise/lock
// (an open-file-description lock, which s6's clients see as a POSIX
// lock, held while supervised), supervise/control (one-letter
// commands), supervise/status (35 bytes), supervise/death_tally,
// supervise/service-lock (lock-fd), and the event/ fifodir; and svinit's
// restart backoff (nextStart), whose state is in supervise/svinit-restart. Children are
// spawned and reaped through a shared reaper.Reaper, so many services
// can live in one process (svscan).
//
// A Service has no goroutine of its own: it is a state machine behind a
// mutex, driven by whoever has news for it: the control poller (letters
// on supervise/control), the reaper (a child's exit), a timer, the
// reader of its notification pipe, or the caller (Start, Control). Each
// of those turns its news into an event for one function, step
// (state.go), which makes every change of state; nextStart there decides
// when ./run starts next. A scanner with a thousand services pays for a
// thousand small structs, not a thousand goroutine stacks.
//
// Files: service.go the Service and the entry points of events;
// state.go states, events, step and nextStart; spawn.go ./run and
// ./finish; timers.go the two timers; ready.go the notification pipe;
// files.go status, event/, ./down, the tally, supervise/svinit-restart
// and configuration rereads;
// ctlfiles.go and ctlpoll.go the lock, control FIFO and its poller;
// deathtally.go the tally's format.
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
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
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
	// NoBackoff turns the restart backoff off, as svinit-no-backoff in
	// the service directory does: s6's restart rule (a scanner's option
	// for a whole image).
	NoBackoff bool
	// Cgroups is the cgroup subtree the service's cgroup is made in
	// (shared by the services of one process); nil: the Poller's.
	Cgroups *Cgroups
	// NoCgroup: no cgroup of its own, as svinit-no-cgroup in the service
	// directory does: s6's behaviour (a scanner's option for a whole
	// image).
	NoCgroup bool
}

// Service is one supervised service directory.
type Service struct {
	dir  string // as given, for messages
	root string // the directory itself, stable across renames
	dfd  int    // the directory, open; keeps root valid
	opts Options

	// mu guards everything below; every event takes it (see do).
	mu sync.Mutex

	// The state machine (state.go): its state and what step needs to
	// know besides.
	st       state              // see step
	status   servicedir.Status  // what supervise/status says, "wanted up" included
	pid      int                // ./run or ./finish pid, 0 if none
	started  bool               // Start was called
	bail     bool               // supervision is to end once this event is done
	ended    bool               // supervision has ended (done is closed)
	quietEnd bool               // 'x' came from supervise/control: the last ./finish gets /dev/null
	spawned  time.Time          // last spawn of ./run (nextStart)
	gen      uint32             // spawn generation: a late readiness newline is ignored
	tgen     uint32             // timer generation: a timer that fired late is ignored
	kgen     uint32             // killer generation
	cfg      servicedir.Config  // as read at the last spawn; some files reread at a death or 'd'
	lived    time.Duration      // how long the last ./run ran (nextStart)
	deaths   []time.Time        // recent deaths of ./run, for svinit-permafail-deaths
	rs       servicedir.Restart // restart backoff state (supervise/svinit-restart)
	rsFile   servicedir.Restart // what supervise/svinit-restart holds
	rsOnce   bool               // supervise/svinit-restart was written once
	cg       *cgroup.Group      // the service's cgroup (cgroup.go), nil if none
	oomSeen  uint64             // memory.events' oom_kill at the last look

	// What the actions hold.
	lock    int           // supervise/lock, locked; -1 if none
	control int           // supervise/control, read by the poller; -1 if none
	ownPoll bool          // the poller is this service's own
	done    chan struct{} // closed when supervision has ended
	notify  *os.File      // read end of the notification pipe of generation gen, or nil
	timer   *time.Timer   // respawn delay, retry or finish timeout (nil until first used)
	killer  *time.Timer   // timeout-kill (nil until first used)
	devnull *os.File      // stdio of the last ./finish
	defOut  *os.File      // 1 and 2 where opts has none (SetDefaultOutput)
	onExit  []func()      // run when supervision ends

	// When timer and killer run out, and the spawn generation whose
	// readiness newline was last read (a handover carries them).
	timerDue, killerDue time.Time
	readySeen           uint32

	// Messages.
	lastErr string          // last reported spawn error, to avoid repeats
	warned  map[string]bool // configuration warnings already reported
	lockMsg bool            // "service-lock held" reported for this wait
	unknown int             // unknown control bytes not yet reported
	logQ    func(string, ...any)
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
	lock, err := servicedir.TakeLockAt(sfd, "lock", 0o644)
	if err != nil {
		unix.Close(sfd)
		if errors.Is(err, servicedir.ErrLockHeld) {
			return fail(ErrLocked)
		}
		return fail(fmt.Errorf("supervise/lock: %w", err))
	}
	s.lock = lock
	// A restart state left by an earlier supervisor is not this one's.
	if err := unix.Unlinkat(dfd, servicedir.RestartFile, 0); err != nil && err != unix.ENOENT {
		s.logQ("remove %s: %v", servicedir.RestartFile, err)
	}
	// A cgroup named by an earlier supervisor is not this one's yet.
	if err := servicedir.RemoveCgroupFileAt(dfd); err != nil {
		s.logQ("%v", err)
	}
	// s6-supervise 2.11 starts a new tally (it truncates the file).
	err = servicedir.ReplaceAt(sfd, "death_tally", nil)
	if err != nil {
		s.logQ("supervise/death_tally: %v", err)
	}
	// The status first: a client that sees the service supervised (the
	// lock, the control FIFO) or subscribes to event/ must find it.
	// ./down as s6-supervise tests it: access(F_OK), through links.
	var st unix.Stat_t
	downErr := unix.Fstatat(dfd, "down", &st, 0)
	now := tai64n.Now()
	s.status = servicedir.Status{Stamp: now, ReadyStamp: now, WantUp: downErr != nil, Ready: true}
	if err := servicedir.WriteStatusAt(dfd, &s.status); err != nil {
		unix.Close(sfd)
		return fail(fmt.Errorf("write supervise/status: %w", err))
	}
	cfd, err := servicedir.OpenControlFIFOAt(sfd, "control")
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
	// No servicedir.CleanFifodir: the 's' event below reaches every live listener
	// and removes the dead ones.
	s.event(servicedir.EventStart)
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
	s.do(func() { s.apply([]byte(letters), false) })
}

// OnExit registers f to run when supervision ends. Call it before Start;
// f runs with the service locked and must not block or call back into it.
func (s *Service) OnExit(f func()) { s.onExit = append(s.onExit, f) }

// controlFIFO is called by the poller with bytes read from the FIFO.
func (s *Service) controlFIFO(b []byte) {
	s.do(func() { s.apply(b, true) })
}

// apply runs control letters in order; fifo: they came from
// supervise/control.
func (s *Service) apply(letters []byte, fifo bool) {
	for _, c := range letters {
		s.step(event{kind: evLetter, letter: c, fifo: fifo})
	}
	if s.unknown > 0 {
		s.logQ("ignored %d byte(s) on supervise/control that are not s6-svc commands", s.unknown)
		s.unknown = 0
	}
}

// Start begins supervision: ./run is started at once unless ./down
// exists (or a 'd' came first). It returns at once.
func (s *Service) Start() {
	s.do(func() { s.step(event{kind: evStart}) })
}

// command applies one control letter as Control does.
func (s *Service) command(c byte) { s.step(event{kind: evLetter, letter: c}) }

// childExited is the reaper's callback for ./run and ./finish.
func (s *Service) childExited(e reaper.Exit) {
	s.do(func() { s.step(event{kind: evExit, exit: e}) })
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
	s.event(servicedir.EventExit)
	s.dropCgroup() // nothing of the service outlives its supervision
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

// SetDefaultOutput makes f descriptors 1 and 2 of the ./run and ./finish
// spawned from now on, where Options gave none (nil: the process's own 1
// and 2 again). A scanner shutting down as PID 1 uses it to keep the last
// ./finish scripts writing to the catch-all logger once its own output
// has left it. f must stay open while the service may spawn.
func (s *Service) SetDefaultOutput(f *os.File) {
	s.do(func() { s.defOut = f })
}
