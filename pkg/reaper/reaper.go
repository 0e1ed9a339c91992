// Package reaper is the one place a supervisor process spawns children
// and collects their exit statuses. It calls wait4(-1) itself, so it also
// reaps orphans when the process is PID 1, and dispatches each exit to
// whoever spawned that pid. Nothing else in a process that uses it may
// wait for children (no exec.Cmd.Wait, no os.Process.Wait).
package reaper

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/svinit/svinit/pkg/spawn"
	"golang.org/x/sys/unix"
)

// Exit is the end of a child.
type Exit struct {
	Pid    int
	Status syscall.WaitStatus
}

// Reaper spawns children and delivers their exits.
type Reaper struct {
	// mu is held for reading by each Spawn from fork to registration
	// (spawns run concurrently) and for writing by Reap (so no exit is
	// collected before its pid is registered).
	mu      sync.RWMutex
	wmu     sync.Mutex // guards waiters between concurrent spawns
	waiters map[int]func(Exit)
	spMu    sync.Mutex
	sp      *spawn.Spawner // made at the first spawn; nil if it could not be
	// Orphan, when set, is told about exits of pids nobody spawned
	// through this Reaper (reparented orphans under PID 1). Like the
	// callbacks given to Spawn, it runs on the reaping goroutine, without
	// the reaper's lock held (it may Spawn), and must not block for long.
	Orphan func(Exit)
	// NoFile, when set before the first Spawn, is the RLIMIT_NOFILE of
	// every child whose spawn.Attr leaves NoFile nil: a supervisor that
	// raised its own limit gives its children the one it started with.
	NoFile *unix.Rlimit
}

// New returns a Reaper; call Run to start reaping.
func New() *Reaper {
	return &Reaper{waiters: make(map[int]func(Exit))}
}

// Spawn starts argv0 with argv and attr (nil: no descriptors, an empty
// environment, the reaper's NoFile) through package spawn, and arranges
// for done (if not nil) to be called with its exit, on the goroutine that
// reaps. Spawning and registering happen under the lock that reaping
// takes (shared between spawns, which may run concurrently), so an exit
// can never be collected before its pid is known.
func (r *Reaper) Spawn(argv0 string, argv []string, attr *spawn.Attr, done func(Exit)) (int, error) {
	a := spawn.Attr{}
	if attr != nil {
		a = *attr
	}
	if a.NoFile == nil {
		a.NoFile = r.NoFile
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	pid, err := r.spawner().Start(argv0, argv, &a)
	if err != nil {
		return 0, err
	}
	r.wmu.Lock()
	r.waiters[pid] = done
	r.wmu.Unlock()
	return pid, nil
}

// spawner returns the Reaper's spawn.Spawner (children then copy only a
// few descriptors, however many the process holds), made at first use;
// nil (no slots: children copy every descriptor) if it cannot be made.
func (r *Reaper) spawner() *spawn.Spawner {
	r.spMu.Lock()
	defer r.spMu.Unlock()
	if r.sp == nil {
		r.sp, _ = spawn.NewSpawner() // nil: spawn.Start copies them all
	}
	return r.sp
}

// Reap collects every exited child without blocking and dispatches each
// exit, once the lock is released, to whoever spawned it.
func (r *Reaper) Reap() {
	type call struct {
		f func(Exit)
		e Exit
	}
	var calls []call
	r.mu.Lock()
	r.wmu.Lock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			break
		}
		e := Exit{Pid: pid, Status: syscall.WaitStatus(ws)}
		if f, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			if f != nil {
				calls = append(calls, call{f, e})
			}
		} else if r.Orphan != nil {
			calls = append(calls, call{r.Orphan, e})
		}
	}
	r.wmu.Unlock()
	r.mu.Unlock()
	for _, c := range calls {
		c.f(c.e)
	}
}

// Adopt registers pid, a child this process did not spawn through r
// (one its previous image spawned, inherited across execve), so that its
// exit goes to done as if Spawn had started it. Call it before Run or
// Reap can collect that pid: an exit collected first counts as an
// orphan's.
func (r *Reaper) Adopt(pid int, done func(Exit)) {
	r.wmu.Lock()
	r.waiters[pid] = done
	r.wmu.Unlock()
}

// Pending returns the number of spawned children not yet reaped.
func (r *Reaper) Pending() int {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return len(r.waiters)
}

// Run reaps on every SIGCHLD (and on every value received from kick,
// which may be nil) until stop is closed.
func (r *Reaper) Run(stop <-chan struct{}, kick <-chan struct{}) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	r.Reap()
	for {
		select {
		case <-ch:
		case <-kick:
		case <-stop:
			r.spMu.Lock()
			if r.sp != nil {
				r.sp.Close()
				r.sp = nil
			}
			r.spMu.Unlock()
			return
		}
		r.Reap()
	}
}
