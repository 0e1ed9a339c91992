package supervise

// Spawning ./run and ./finish.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/spawn"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

func (s *Service) stdio() []int {
	f := func(f *os.File, def int) int {
		if f == nil {
			return def
		}
		return int(f.Fd())
	}
	out, err := f(s.opts.Stdout, 1), f(s.opts.Stderr, 2)
	if s.defOut != nil {
		out, err = f(s.opts.Stdout, int(s.defOut.Fd())), f(s.opts.Stderr, int(s.defOut.Fd()))
	}
	return []int{f(s.opts.Stdin, 0), out, err}
}

func (s *Service) env() []string {
	if s.opts.Env != nil {
		return s.opts.Env
	}
	return os.Environ()
}

// spawnRun spawns ./run, as s6-supervise's trystart: the service
// directory is read again (notification-fd, lock-fd...), ./run gets the
// service name as its argument, the notification pipe's write end at
// notification-fd and supervise/service-lock, locked, at lock-fd. It
// records the spawn in the status but leaves the state to step. When
// ./run could not be spawned, it says so and returns ok false and how
// soon to try again (never: not until a command).
func (s *Service) spawnRun() (ok bool, retry time.Duration) {
	var cfg servicedir.Config
	if s.opts.Config != nil {
		cfg, s.opts.Config = *s.opts.Config, nil
	} else {
		var err error
		if cfg, err = servicedir.ReadAt(s.dfd, s.dir); err != nil {
			return false, s.spawnFailed(err.Error(), SpawnRetryDelay)
		}
		s.warned = keep(s.warned, cfg.Warnings)
	}
	s.warn(cfg.Warnings)
	if cfg.RunErr != nil {
		return false, s.spawnFailed(cfg.RunErr.Error(), SpawnRetryDelay)
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
			return false, s.spawnFailed(fmt.Sprintf("%s: %d is not below the descriptor limit %d (ulimit -n)", filepath.Join(s.dir, name), high, lim.Cur), SpawnRetryDelay)
		}
		for len(files) <= high {
			files = append(files, -1)
		}
	}
	var lock *os.File
	if cfg.LockFd >= 0 {
		if cfg.LockFd == cfg.NotificationFd {
			// s6-supervise waits for a command then.
			s.logQ("cannot start: %s and %s are both %d (fix one, then svc -u)", servicedir.NotificationFd, servicedir.LockFd, cfg.LockFd)
			return false, never
		}
		if lock, retry = s.serviceLock(); lock == nil {
			return false, retry
		}
		defer lock.Close() // the child's copy holds the lock
		files[cfg.LockFd] = int(lock.Fd())
	}
	var nr, nw *os.File
	if cfg.NotificationFd >= 0 {
		r, w, err := os.Pipe()
		if err != nil {
			return false, s.spawnFailed(fmt.Sprintf("pipe for notification-fd: %v", err), SetupRetryDelay)
		}
		nr, nw = r, w
		// At that number in the child, whatever it is: for 1, the
		// service's stdout is the pipe (s6-fdholder-daemon -1).
		files[cfg.NotificationFd] = int(nw.Fd())
	}
	attr := &spawn.Attr{Dir: s.root, Env: s.env(), Files: files, Setsid: true}
	pid, err := s.spawnInCgroup(&cfg, "./run", []string{"./run", s.opts.Name}, attr)
	if nw != nil {
		nw.Close()
	}
	if err != nil {
		if nr != nil {
			nr.Close()
		}
		return false, s.spawnFailed(fmt.Sprintf("cannot spawn ./run: %v", err), SpawnRetryDelay)
	}
	s.lastErr = ""
	s.lockMsg = false
	s.gen++
	s.closeNotify()
	if nr != nil {
		s.notify = nr
		go s.readReady(nr, s.gen)
	}
	s.pid = pid
	s.spawned = time.Now()
	s.status.Pid = uint64(pid)
	s.status.Stamp = tai64n.FromTime(s.spawned)
	s.status.Ready = false
	s.status.Paused = false
	s.announce()
	s.event(servicedir.EventUp)
	return true, 0
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
// tried again every LockRetryDelay. It returns the file, or nil and how
// soon to try again.
func (s *Service) serviceLock() (*os.File, time.Duration) {
	const name = "supervise/service-lock"
	fd, err := servicedir.OpenRegular(s.dfd, name, unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		return nil, s.spawnFailed(fmt.Sprintf("%s (lock-fd): %v", name, err), SetupRetryDelay)
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
			return nil, LockRetryDelay
		}
		return nil, s.spawnFailed(fmt.Sprintf("lock %s: %v", name, err), SetupRetryDelay)
	}
	return f, 0
}

// spawnFailed reports msg (once while it stays the same) and returns retry.
func (s *Service) spawnFailed(msg string, retry time.Duration) time.Duration {
	if msg != s.lastErr {
		s.logQ("%s (retrying every %v)", msg, retry)
		s.lastErr = msg
	}
	return retry
}

// startFinish spawns ./finish with s6's four arguments and arms
// timeout-finish; it leaves the state to step.
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
			fd := int(s.devnull.Fd())
			files = []int{fd, fd, fd}
		}
	}
	argv := []string{"./finish", strconv.Itoa(code), strconv.Itoa(sig), s.opts.Name, strconv.Itoa(deadPid)}
	attr := &spawn.Attr{Dir: s.root, Env: s.env(), Files: files, Setsid: true}
	pid, err := s.spawnInCgroup(nil, "./finish", argv, attr)
	if err != nil {
		s.logQ("cannot spawn ./finish: %v", err)
		return false
	}
	s.pid = pid
	s.status.Pid = uint64(pid)
	s.status.Finishing = true
	if s.cfg.TimeoutFinish > 0 {
		s.setTimer(s.cfg.TimeoutFinish)
	}
	return true
}
