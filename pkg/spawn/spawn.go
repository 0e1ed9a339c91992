// Package spawn starts a program in a new child process, the way
// posix_spawn does: a vfork-style clone whose child only makes the
// system calls prepared for it by the parent (new session or process
// group, working directory, descriptor moves, signal mask), then execve.
//
// Go's syscall.ForkExec does the same job, but its child also resets
// every signal handler the Go runtime installed (one system call per
// signal, about 60) and the parent adds a pipe to learn about a failed
// execve. A supervisor that starts a hundred services at once pays for
// that a hundred times over, in the window where the parent waits for
// the child to exec. Here the child is a few lines of assembly that run
// a list of system calls computed in Go (ops), with every signal blocked
// until the handlers of the few signals a supervisor catches are reset
// (the execve resets the others itself). A failure is written by the
// child into memory shared with the parent.
//
// On architectures without the assembly, Start uses syscall.ForkExec.
package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Attr says how the child starts.
type Attr struct {
	// Dir is the child's working directory; empty: the parent's.
	Dir string
	// Env is the child's environment.
	Env []string
	// Files[i] is the parent's descriptor that becomes descriptor i in
	// the child (without close-on-exec); -1 leaves i closed. The child
	// inherits no other descriptor, even one the parent holds without
	// close-on-exec (on kernels with close_range, 5.9 and later; and
	// where Start falls back to syscall.ForkExec, those are inherited).
	Files []int
	// Setsid puts the child in a new session (and process group).
	Setsid bool
	// Setpgid puts the child in a new process group of its own, in the
	// parent's session (Setsid implies it).
	Setpgid bool
	// NoFile, when set, is the child's RLIMIT_NOFILE. Go's runtime
	// raises a process's soft limit to its hard limit at start, and
	// syscall.ForkExec gives children the original back; a supervisor
	// that raised its own limits says here what its children get (a
	// failure to set it is ignored, as Go ignores it). Where Start falls
	// back to syscall.ForkExec, the child gets Go's restored limit.
	NoFile *unix.Rlimit
	// UseCgroupFD starts the child in the cgroup v2 directory open as
	// CgroupFD (package cgroup): with clone3's CLONE_INTO_CGROUP (Linux
	// 5.7) the child is in it from its first instruction; on a kernel
	// without it (or where clone3 is filtered), the child writes itself
	// into the cgroup's cgroup.procs as its first system call, before it
	// runs anything of the program. Failing to get there fails the
	// spawn.
	UseCgroupFD bool
	CgroupFD    int
	// CgroupMoveSelf makes the child write itself into the cgroup's
	// cgroup.procs even where clone3 could start it there: Linux kills
	// a child started by CLONE_INTO_CGROUP in a cgroup whose
	// cgroup.kill was ever written (its kill sequence number is compared
	// with the parent's cgroup's, seen on 6.18), so a cgroup that was
	// killed once takes its processes this way (package cgroup's
	// Group.CloneInto says which).
	CgroupMoveSelf bool
}

// Start starts path with argv and returns the child's pid. The child has
// an empty signal mask and default signal handlers. When the child cannot
// be started (clone, chdir or execve fails), Start returns the system
// error and has already collected the child's exit itself. An error of
// getting into the cgroup satisfies IsCgroupError.
func Start(path string, argv []string, attr *Attr) (int, error) {
	var none *Spawner
	return none.Start(path, argv, attr)
}

// A Spawner starts children like Start, and in a process with many
// descriptors open it saves each child the copy of them all: a child
// normally gets a copy of the parent's whole descriptor table, and its
// execve closes them again one by one (about 0.13 us a descriptor here,
// BenchmarkStart; a scanner with 1000 services holds 3000). A Spawner keeps a few low
// descriptors of its own ("slots"): it puts the child's descriptors
// there, and the child copies only the descriptors below the highest
// slot. It has one set of slots per processor (up to 4): that many
// spawns can run at once.
type Spawner struct {
	mu     sync.RWMutex // Start holds it shared, Close alone
	closed bool
	sets   chan []int // free slot sets
	all    []int      // every slot, for Close
	hold   int        // what a free slot holds: "/" opened O_PATH
	k      int        // the child copies descriptors below k
}

// slotCount is how many descriptors a child can get from above the slots
// (standard streams from pipes, a notification pipe); a spawn needing
// more copies the whole table.
const slotCount = 4

// NewSpawner reserves the slots: the lowest free descriptors.
func NewSpawner() (*Spawner, error) {
	n := runtime.GOMAXPROCS(0)
	if n > 4 {
		n = 4
	}
	sp := &Spawner{hold: -1, sets: make(chan []int, n)}
	open := func() (int, error) {
		fd, err := syscall.Open("/", unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
		if err != nil {
			sp.Close()
			return -1, fmt.Errorf("spawn: reserve descriptors: %w", err)
		}
		if fd+1 > sp.k {
			sp.k = fd + 1
		}
		return fd, nil
	}
	var err error
	if sp.hold, err = open(); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		set := make([]int, slotCount)
		for j := range set {
			if set[j], err = open(); err != nil {
				return nil, err
			}
			sp.all = append(sp.all, set[j])
		}
		sp.sets <- set
	}
	return sp, nil
}

// Close releases the slots; later spawns copy the whole table.
func (sp *Spawner) Close() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil
	}
	sp.closed = true
	for _, fd := range append(sp.all, sp.hold) {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	return nil
}

// shared is a spawn through the slots: the descriptors as the child
// sees them after its first op, and how many it copies.
type shared struct {
	files []int
	k     int
}

// Start is the package's Start through the slots. A nil Spawner has no
// slots: its children copy the whole table.
func (sp *Spawner) Start(path string, argv []string, attr *Attr) (int, error) {
	if attr == nil {
		attr = &Attr{}
	}
	if len(argv) == 0 {
		return 0, errors.New("spawn: empty argv")
	}
	if !haveRaw {
		return forkExec(path, argv, attr)
	}
	if sp == nil {
		return start(path, argv, attr, nil)
	}
	sp.mu.RLock()
	defer sp.mu.RUnlock()
	if sp.closed {
		return start(path, argv, attr, nil)
	}
	slots := <-sp.sets
	defer func() { sp.sets <- slots }()
	files := make([]int, len(attr.Files))
	used := 0
	var err error
	for i, f := range attr.Files {
		files[i] = f
		if f < sp.k {
			continue // -1, a standard stream, or below the slots anyway
		}
		if j := index(attr.Files[:i], f); j >= 0 {
			files[i] = files[j] // one source for two targets
			continue
		}
		if used == len(slots) {
			err = errTooMany
			break
		}
		if err = syscall.Dup3(f, slots[used], syscall.O_CLOEXEC); err != nil {
			break
		}
		files[i] = slots[used]
		used++
	}
	defer func() {
		// Let go of the sources (a pipe's write end held here would keep
		// its reader from ever seeing the end).
		for _, fd := range slots[:used] {
			syscall.Dup3(sp.hold, fd, syscall.O_CLOEXEC)
		}
	}()
	if err != nil {
		return start(path, argv, attr, nil)
	}
	return start(path, argv, attr, &shared{files: files, k: sp.k})
}

var errTooMany = errors.New("more descriptors than slots")

// IsCgroupError reports whether err, from Start, means the child could
// not be started in the cgroup of Attr.CgroupFD (clone3 refused it, or
// the child could not write itself into cgroup.procs): starting it
// without a cgroup may work.
func IsCgroupError(err error) bool {
	var se *os.SyscallError
	if errors.As(err, &se) && se.Syscall == "clone3 into cgroup" {
		return true
	}
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Path == "cgroup.procs"
}

func index(l []int, v int) int {
	for i, x := range l {
		if x == v {
			return i
		}
	}
	return -1
}

// forkExec is Start through the standard library.
func forkExec(path string, argv []string, attr *Attr) (int, error) {
	files := make([]uintptr, len(attr.Files))
	for i, f := range attr.Files {
		files[i] = uintptr(f)
		if f < 0 {
			files[i] = ^uintptr(0)
		}
	}
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Dir: attr.Dir, Env: attr.Env, Files: files,
		Sys: &syscall.SysProcAttr{Setsid: attr.Setsid, Setpgid: attr.Setpgid && !attr.Setsid,
			UseCgroupFD: attr.UseCgroupFD, CgroupFD: attr.CgroupFD},
	})
}

// op is one system call the child makes: nr(a1, a2, a3, a4). With
// check set, a failure ends the child (exit 127) and is reported to the
// parent. The layout is read by the assembly: six machine words.
type op struct {
	nr, a1, a2, a3, a4 uintptr
	check              uintptr // ignore, mustSucceed or orElse
}

// What the child does when an op fails.
const (
	ignore      = 0
	mustSucceed = 1 // exit 127, reporting the error
	orElse      = 2 // run the next op (skipped when this one succeeds)
)

// fdMoves returns the descriptor moves that give the child files[i] as
// descriptor i, in order: sources that a move onto a lower target could
// overwrite are first copied above every descriptor involved (with
// close-on-exec); then each target is filled, or closed when files[i] is
// -1. A descriptor that stays where it is only loses close-on-exec.
func fdMoves(files []int) []op {
	fd := append([]int(nil), files...)
	next := len(fd)
	for _, f := range fd {
		if f >= next {
			next = f + 1
		}
	}
	var ops []op
	for i, f := range fd {
		if f >= 0 && f < i {
			ops = append(ops, op{nr: syscall.SYS_DUP3, a1: uintptr(f), a2: uintptr(next), a3: syscall.O_CLOEXEC, check: mustSucceed})
			fd[i] = next
			next++
		}
	}
	for i, f := range fd {
		switch {
		case f < 0:
			ops = append(ops, op{nr: syscall.SYS_CLOSE, a1: uintptr(i)})
		case f == i:
			ops = append(ops, op{nr: syscall.SYS_FCNTL, a1: uintptr(i), a2: syscall.F_SETFD, a3: 0, check: mustSucceed})
		default:
			ops = append(ops, op{nr: syscall.SYS_DUP3, a1: uintptr(f), a2: uintptr(i), a3: 0, check: mustSucceed})
		}
	}
	return ops
}
