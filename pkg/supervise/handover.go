package supervise

// Handing a supervised service over to the next image of the process
// (a scanner re-exec'ing itself: svscanctl -X). The processes are the
// process's children and stay so across execve; the descriptors the
// service holds are kept open (the caller clears their close-on-exec
// flag); its state is carried as a Handover, which the new image turns
// back into a Service with Adopt and Resume, without spawning anything.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"
)

// Handover is one service's supervision state. Descriptors are numbers
// (-1: none); times are ages or what is left of a delay, measured when
// Hold was called (At).
type Handover struct {
	Dir, Name                  string
	Dfd, Lock, Control, Notify int
	State                      int
	Status                     [servicedir.StatusSize]byte
	Pid                        int
	Started, QuietEnd          bool
	RsOnce                     bool
	Gen                        uint32
	Spawned                    time.Duration // how long ago ./run was last spawned; < 0: never
	Lived                      time.Duration
	Deaths                     []time.Duration // how long ago each recent death was
	Restart, RestartFile       [servicedir.RestartSize]byte
	Timer, Killer              time.Duration // left of each timer; < 0: not armed
	ReadyRead                  bool          // the readiness newline was read, not yet applied
	Cgroup                     string        // the service's cgroup (cgroup.go), taken over by name; "": none
	OOMSeen                    uint64
	LastErr                    string
	At                         time.Time // when Hold took it
}

// Fds are the descriptors h names, which must survive the execve.
func (h *Handover) Fds() []int {
	var fds []int
	for _, fd := range []int{h.Dfd, h.Lock, h.Control, h.Notify} {
		if fd >= 0 {
			fds = append(fds, fd)
		}
	}
	return fds
}

// Hold locks the service and returns its state: until Release no event
// is applied to it (events wait). It returns nil if supervision has
// ended. The caller should pause the poller first (ControlPoller.Pause)
// and keep the reaper from collecting exits, so that nothing is taken
// from the service's pipes or children and then lost at the execve.
func (s *Service) Hold() *Handover {
	s.mu.Lock()
	if s.ended || s.bail {
		return nil
	}
	now := time.Now()
	h := &Handover{Dir: s.dir, Name: s.opts.Name, Dfd: s.dfd, Lock: s.lock, Control: s.control, Notify: -1,
		State: int(s.st), Status: s.status.Marshal(), Pid: s.pid, Started: s.started, QuietEnd: s.quietEnd,
		RsOnce: s.rsOnce, Gen: s.gen, Spawned: -1, Lived: s.lived, Restart: s.rs.Marshal(),
		RestartFile: s.rsFile.Marshal(), Timer: -1, Killer: -1, LastErr: s.lastErr, At: now}
	if s.cg != nil {
		h.Cgroup, h.OOMSeen = s.cg.Path(), s.oomSeen
	}
	if s.notify != nil && atomic.LoadUint32(&s.readySeen) == s.gen {
		h.ReadyRead = true // its reader waits for the lock with it
	}
	if s.notify != nil {
		// Not Fd(): that would make the pipe blocking under its reader.
		if rc, err := s.notify.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { h.Notify = int(fd) })
		}
	}
	if !s.spawned.IsZero() {
		h.Spawned = now.Sub(s.spawned)
	}
	for _, d := range s.deaths {
		h.Deaths = append(h.Deaths, now.Sub(d))
	}
	if s.timer != nil {
		h.Timer = max(0, s.timerDue.Sub(now))
	}
	if s.killer != nil {
		h.Killer = max(0, s.killerDue.Sub(now))
	}
	return h
}

// Release undoes Hold (the execve failed: supervision goes on).
func (s *Service) Release() { s.mu.Unlock() }

// Adopt rebuilds a service from a Handover in the new image, after
// elapsed more time than the Handover's ages say (the execve). opts are
// as for New (Reaper and Poller required; Name is the Handover's).
// Nothing runs until Resume: register OnExit callbacks in between.
func Adopt(h *Handover, elapsed time.Duration, opts Options) (*Service, error) {
	if opts.Reaper == nil || opts.Poller == nil {
		return nil, errors.New("supervise: adopting a service needs a reaper and a poller")
	}
	st, err := servicedir.UnmarshalStatus(h.Status[:])
	if err != nil {
		return nil, fmt.Errorf("service dir %s: handed-over status: %w", h.Dir, err)
	}
	rs, err := servicedir.UnmarshalRestart(h.Restart[:])
	if err != nil {
		return nil, fmt.Errorf("service dir %s: handed-over restart state: %w", h.Dir, err)
	}
	rsFile, _ := servicedir.UnmarshalRestart(h.RestartFile[:])
	opts.Name = h.Name
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Service{dir: h.Dir, root: h.Dir, dfd: h.Dfd, lock: h.Lock, control: h.Control, opts: opts,
		st: state(h.State), status: st, pid: h.Pid, started: h.Started, quietEnd: h.QuietEnd,
		rsOnce: h.RsOnce, gen: h.Gen, lived: h.Lived, rs: rs, rsFile: rsFile, lastErr: h.LastErr,
		done: make(chan struct{})}
	s.logQ = func(f string, a ...any) { opts.Logf("service %s: "+f, append([]any{h.Dir}, a...)...) }
	if procFD() {
		s.root = "/proc/self/fd/" + strconv.Itoa(h.Dfd)
	}
	for _, fd := range h.Fds() {
		unix.CloseOnExec(fd)
	}
	if h.Notify >= 0 {
		s.notify = os.NewFile(uintptr(h.Notify), "notification pipe")
	}
	now := time.Now()
	if h.Spawned >= 0 {
		s.spawned = now.Add(-h.Spawned - elapsed)
	}
	for _, d := range h.Deaths {
		s.deaths = append(s.deaths, now.Add(-d-elapsed))
	}
	// The configuration as it is now, as a restarted supervisor reads
	// it; what it warned about was said already.
	if cfg, err := servicedir.ReadAt(s.dfd, s.dir); err == nil {
		s.cfg = cfg
		s.warned = map[string]bool{}
		for _, w := range cfg.Warnings {
			s.warned[w] = true
		}
	}
	return s, nil
}

// Resume lets a service adopted from h receive events again: its child's
// exit (registered with the reaper, which must not have reaped yet), its
// control FIFO, its notification pipe, and its timers for what was left
// of them once elapsed has gone by.
func (s *Service) Resume(h *Handover, elapsed time.Duration) error {
	var err error
	s.do(func() {
		if s.pid > 0 {
			s.opts.Reaper.Adopt(s.pid, s.childExited)
		}
		if h.Cgroup != "" && !s.cfg.NoCgroup {
			// The same cgroup, by the service's name, in the subtree
			// the old image's lock no longer holds.
			s.makeCgroup(&s.cfg)
			switch {
			case s.cg == nil:
				s.logQ("its cgroup %s is not tracked any more", h.Cgroup)
			case s.cg.Path() != h.Cgroup:
				s.logQ("cgroup %s now, was %s (another supervisor took the subtree): what runs in the old one is not tracked", s.cg.Path(), h.Cgroup)
			default:
				s.oomSeen = h.OOMSeen
			}
		}
		if s.control >= 0 {
			if err = s.opts.Poller.add(s.control, s); err != nil {
				err = fmt.Errorf("service dir %s: supervise/control: %w", s.dir, err)
			}
		}
		if h.ReadyRead {
			s.step(event{kind: evReady, gen: s.gen})
		} else if s.notify != nil {
			go s.readReady(s.notify, s.gen)
		}
		if h.Timer >= 0 {
			s.setTimer(max(0, h.Timer-elapsed))
		}
		if h.Killer >= 0 {
			s.setKiller(max(0, h.Killer-elapsed))
		}
	})
	return err
}
