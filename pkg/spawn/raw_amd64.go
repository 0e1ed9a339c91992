//go:build linux && amd64

package spawn

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

const (
	haveRaw = true
)

// req is shared by the parent and the child (the child runs in the
// parent's memory until it execs). Its layout is read by the assembly.
type req struct {
	ops   *op     // 0
	nops  uintptr // 8
	errno uintptr // 16: set by a child that failed
	errop uintptr // 24: index of the op that failed
	//lint:ignore U1000 used by the assembly only
	oldmask uint64    // 32: the parent thread's signal mask
	allmask uint64    // 40: every signal
	nomask  uint64    // 48: no signal (the child's mask at execve)
	dfl     [4]uint64 // 56: struct sigaction for SIG_DFL
	flags   uintptr   // 88: clone flags
	clone3  uintptr   // 96: non-zero: clone3(&cargs, 88) instead of clone
	cargs   cloneArgs // 104: clone3's struct clone_args
}

// cloneArgs is the kernel's struct clone_args up to its cgroup field
// (CLONE_ARGS_SIZE_VER2, 88 bytes).
// Only flags, exit_signal and cgroup are set; the others stay zero.
type cloneArgs struct {
	flags      uint64
	_          [3]uint64 // pidfd, child_tid, parent_tid
	exitSignal uint64
	_          [5]uint64 // stack, stack_size, tls, set_tid, set_tid_size
	cgroup     uint64
}

const (
	cloneVM           = 0x100
	cloneFiles        = 0x400
	cloneVfork        = 0x4000
	sigchld           = 0x11
	closeRangeUnshare = 2
	sysCloseRange     = 436
	cloneIntoCgroup   = 0x200000000
)

// clone3 says whether clone3 with CLONE_INTO_CGROUP works here: 0 not
// known yet, 1 it does, 2 it does not (Linux before 5.7, or clone3
// filtered out: a child then moves itself into its cgroup).
var clone3 atomic.Int32

// resetSignals are the signals whose handlers the child sets back to
// SIG_DFL before it unblocks signals. Between that and its execve (which
// resets every handler), a signal sent to the child (by kill(-1, ...),
// say) would otherwise run the parent's Go handler in the child, in the
// parent's memory: for a signal the parent catches with os/signal, the
// parent would see it as its own. These are the signals a supervisor
// catches (svscan: HUP INT QUIT USR1 USR2 TERM WINCH PWR; ALRM). Any
// other Go handler in that window either ignores the signal or kills the
// child, which is what the signal would do after execve anyway.
// The fault signals follow: svscan as process 1 ignores them (SIG_IGN,
// which execve would keep), and its children must not.
func resetSignals() [15]syscall.Signal {
	return [...]syscall.Signal{
		syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2,
		syscall.SIGALRM, syscall.SIGTERM, syscall.SIGWINCH, syscall.SIGPWR,
		syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGSTKFLT, syscall.SIGSYS,
	}
}

// vfork blocks every signal, clones with CLONE_VM|CLONE_VFORK, runs r's
// ops in the child, restores the mask in the parent and returns the raw
// result of clone (a pid, or -errno). r must be on the heap (hence no
// noescape directive), like everything its ops point to: the ops hold
// addresses as plain integers, and a goroutine stack can move.
func vfork(r *req) uintptr

func start(path string, argv []string, attr *Attr, share *shared) (int, error) {
	p, err := syscall.BytePtrFromString(path)
	if err != nil {
		return 0, err
	}
	av, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return 0, err
	}
	ev, err := syscall.SlicePtrFromStrings(attr.Env)
	if err != nil {
		return 0, err
	}
	var dir *byte
	if attr.Dir != "" {
		if dir, err = syscall.BytePtrFromString(attr.Dir); err != nil {
			return 0, err
		}
	}
	r := &req{allmask: ^uint64(0), flags: cloneVM | cloneVfork | sigchld}
	ops := make([]op, 1, 21+2*len(attr.Files))
	// ops[0] is the write into cgroup.procs of a child that cannot be
	// started in its cgroup by clone3 (see below); skipped otherwise.
	files := attr.Files
	if attr.Setsid {
		ops = append(ops, op{nr: syscall.SYS_SETSID, check: mustSucceed})
	} else if attr.Setpgid {
		ops = append(ops, op{nr: syscall.SYS_SETPGID, check: mustSucceed}) // setpgid(0, 0)
	}
	if dir != nil {
		ops = append(ops, op{nr: syscall.SYS_CHDIR, a1: uintptr(unsafe.Pointer(dir)), check: mustSucceed})
	}
	if share != nil {
		// The child shares the parent's descriptor table until this op
		// gives it a copy of only the descriptors below share.k (the
		// standard streams and the slots holding the sources); on a
		// kernel without close_range, it copies the whole table. It
		// comes after the chdir: Dir may be /proc/self/fd/N.
		r.flags |= cloneFiles
		files = share.files
		ops = append(ops,
			op{nr: sysCloseRange, a1: uintptr(share.k), a2: ^uintptr(0) >> 32, a3: closeRangeUnshare, check: orElse},
			op{nr: syscall.SYS_UNSHARE, a1: cloneFiles, check: mustSucceed},
		)
	}
	if attr.NoFile != nil {
		ops = append(ops, op{nr: syscall.SYS_PRLIMIT64, a2: syscall.RLIMIT_NOFILE, a3: uintptr(unsafe.Pointer(attr.NoFile))})
	}
	ops = append(ops, fdMoves(files)...)
	// Nothing else is inherited, close-on-exec or not (no-op without
	// close_range).
	ops = append(ops, op{nr: sysCloseRange, a1: uintptr(len(files)), a2: ^uintptr(0) >> 32})
	for _, sig := range resetSignals() {
		ops = append(ops, op{nr: syscall.SYS_RT_SIGACTION, a1: uintptr(sig), a2: uintptr(unsafe.Pointer(&r.dfl)), a4: 8, check: mustSucceed})
	}
	ops = append(ops,
		op{nr: syscall.SYS_RT_SIGPROCMASK, a1: 2 /* SIG_SETMASK */, a2: uintptr(unsafe.Pointer(&r.nomask)), a4: 8, check: mustSucceed},
		op{nr: syscall.SYS_EXECVE, a1: uintptr(unsafe.Pointer(p)), a2: uintptr(unsafe.Pointer(&av[0])), a3: uintptr(unsafe.Pointer(&ev[0])), check: mustSucceed},
	)
	first := 1 // ops[first:] run in the child
	procs := -1
	if attr.UseCgroupFD {
		if clone3.Load() != 2 && !attr.CgroupMoveSelf {
			r.clone3 = 1
			r.cargs = cloneArgs{flags: uint64(r.flags&^0xff) | cloneIntoCgroup, exitSignal: sigchld, cgroup: uint64(attr.CgroupFD)}
		} else if procs, err = intoCgroup(attr.CgroupFD, ops); err != nil {
			return 0, err
		} else {
			first = 0
		}
	}
	r.ops, r.nops = &ops[first], uintptr(len(ops)-first)
	ret := vfork(r)
	if e := int(ret); r.clone3 != 0 && e < 0 && clone3Missing(syscall.Errno(-e)) {
		// No CLONE_INTO_CGROUP here: from now on, the child moves itself.
		clone3.Store(2)
		r.clone3 = 0
		if procs, err = intoCgroup(attr.CgroupFD, ops); err != nil {
			return 0, err
		}
		first = 0
		r.ops, r.nops = &ops[0], uintptr(len(ops))
		ret = vfork(r)
	} else if r.clone3 != 0 && e >= 0 {
		clone3.Store(1)
	}
	if procs >= 0 {
		syscall.Close(procs)
	}
	runtime.KeepAlive(p)
	runtime.KeepAlive(av)
	runtime.KeepAlive(ev)
	runtime.KeepAlive(dir)
	runtime.KeepAlive(ops)
	runtime.KeepAlive(attr.NoFile)
	if e := int(ret); e < 0 {
		if r.clone3 != 0 {
			// The kernel refused the cgroup (or the clone): said as such.
			return 0, os.NewSyscallError("clone3 into cgroup", syscall.Errno(-e))
		}
		return 0, syscall.Errno(-e)
	}
	pid := int(ret)
	r.errop += uintptr(first) // an index into ops
	if r.errno != 0 {
		// The child has exited (vfork returned): collect it.
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
				break
			}
		}
		err := syscall.Errno(r.errno)
		switch o := ops[r.errop]; {
		case o.nr == syscall.SYS_CHDIR:
			return 0, &os.PathError{Op: "chdir", Path: attr.Dir, Err: err}
		case r.errop == 0:
			return 0, &os.PathError{Op: "move into cgroup", Path: "cgroup.procs", Err: err}
		}
		return 0, err
	}
	return pid, nil
}

// intoCgroup opens cgroup.procs of the cgroup directory open as cgfd and
// makes ops[0] the child's write of "0" (itself) into it: where clone3
// cannot start the child in its cgroup, its first system call moves it
// there. It returns the descriptor, for the parent to close once the
// child has exec'd or failed.
func intoCgroup(cgfd int, ops []op) (int, error) {
	fd, err := syscall.Openat(cgfd, "cgroup.procs", syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: "cgroup.procs", Err: err}
	}
	ops[0] = op{nr: syscall.SYS_WRITE, a1: uintptr(fd), a2: uintptr(unsafe.Pointer(&self[0])), a3: 1, check: mustSucceed}
	return fd, nil
}

// self is what a process writes into cgroup.procs to move itself (not
// on a stack: the op holds its address).
var self = [1]byte{'0'}

// clone3Missing reports whether clone3 failing with e means the kernel
// (or a seccomp filter) lacks clone3 or CLONE_INTO_CGROUP: ENOSYS before
// 5.3 or under a filter, E2BIG or EINVAL for a struct clone_args or flag
// newer than the kernel.
func clone3Missing(e syscall.Errno) bool {
	return e == syscall.ENOSYS || e == syscall.E2BIG || e == syscall.EINVAL
}

// ForceCgroupProcs makes children started with UseCgroupFD move
// themselves into their cgroup (the way of kernels without
// CLONE_INTO_CGROUP) until the function it returns is called. For tests.
func ForceCgroupProcs() (restore func()) {
	old := clone3.Swap(2)
	return func() { clone3.Store(old) }
}
