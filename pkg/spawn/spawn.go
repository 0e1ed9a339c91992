// Package spawn starts a program in a new child process, the way
// posix_spawn does: a vfork-style clone whose child only makes the
// system calls prepared for it by the parent (new session, working
// directory, descriptor moves, signal mask), then execve.
//
// Go's syscall.ForkExec does the same job, but its child also resets
// every signal handler the Go runtime installed (one system call per
// signal, about 60) and the parent adds a pipe to learn about a failed
// execve. A supervisor that starts a hundred services at once pays for
// that a hundred times over, in the window where the parent waits for
// the child to exec. Here the child is a few lines of assembly that run
// a list of system calls computed in Go (see plan), with every signal
// blocked until the last moment: the execve resets the handlers itself.
// A failure is written by the child into memory shared with the parent.
//
// On architectures without the assembly, Start uses syscall.ForkExec.
package spawn

import (
	"errors"
	"syscall"
)

// Attr says how the child starts.
type Attr struct {
	// Dir is the child's working directory; empty: the parent's.
	Dir string
	// Env is the child's environment.
	Env []string
	// Files[i] is the parent's descriptor that becomes descriptor i in
	// the child (without close-on-exec); -1 leaves i closed. Every other
	// descriptor the parent has open with close-on-exec (all of Go's)
	// is not inherited.
	Files []int
	// Setsid puts the child in a new session (and process group).
	Setsid bool
}

// Start starts path with argv and returns the child's pid. The child has
// an empty signal mask and default signal handlers. When the child cannot
// be started (clone, chdir or execve fails), Start returns the system
// error and has already collected the child's exit itself.
func Start(path string, argv []string, attr *Attr) (int, error) {
	if attr == nil {
		attr = &Attr{}
	}
	if len(argv) == 0 {
		return 0, errors.New("spawn: empty argv")
	}
	if !haveRaw {
		return forkExec(path, argv, attr)
	}
	return start(path, argv, attr)
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
		Sys: &syscall.SysProcAttr{Setsid: attr.Setsid},
	})
}

// op is one system call the child makes: nr(a1, a2, a3, a4). With
// check set, a failure ends the child (exit 127) and is reported to the
// parent. The layout is read by the assembly: six machine words.
type op struct {
	nr, a1, a2, a3, a4 uintptr
	check              uintptr
}

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
			ops = append(ops, op{nr: sysDup3, a1: uintptr(f), a2: uintptr(next), a3: syscall.O_CLOEXEC, check: 1})
			fd[i] = next
			next++
		}
	}
	for i, f := range fd {
		switch {
		case f < 0:
			ops = append(ops, op{nr: syscall.SYS_CLOSE, a1: uintptr(i)})
		case f == i:
			ops = append(ops, op{nr: syscall.SYS_FCNTL, a1: uintptr(i), a2: syscall.F_SETFD, a3: 0, check: 1})
		default:
			ops = append(ops, op{nr: sysDup3, a1: uintptr(f), a2: uintptr(i), a3: 0, check: 1})
		}
	}
	return ops
}
