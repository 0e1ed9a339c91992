package svscan

// What the scanner does only as process 1: signals no sender may turn
// into a crash, no exit ever, and (catchall.go) the catch-all logger's
// shutdown. The descriptor limits process 1 raises are in limits.go.

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fatal are the signals the Go runtime turns into a crash when they are
// sent by another process and not caught (synchronous faults and traps).
var fatal = []os.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE,
	syscall.SIGSEGV, syscall.SIGSTKFLT, syscall.SIGSYS}

// ignored are the fault signals process 1 ignores (see pid1Signals);
// package spawn gives children their default action back.
var ignored = []syscall.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE,
	syscall.SIGSTKFLT, syscall.SIGSYS}

// pid1Signals makes sure no signal another process sends kills process 1.
// The kernel drops a signal sent to process 1 when its action is the
// default; but Go catches the fatal ones to crash with a stack dump.
// Caught on quiet, one sent by kill(2) is dropped too.
func pid1Signals(quiet chan<- os.Signal) {
	signal.Notify(quiet, fatal...)
	// Sent with sigqueue(3) (si_code SI_QUEUE, not SI_USER), the runtime
	// takes them for real faults and crashes before any channel sees
	// them. Six of them Go has no use for: ignored, the kernel drops
	// them whoever sends them (a real fault is still fatal: the kernel
	// then restores the default action). SIGSEGV stays: nil pointer
	// panics need the runtime's handler. Only where package spawn starts
	// the children (amd64): it sets their action back to the default,
	// syscall.ForkExec would not.
	if runtime.GOARCH == "amd64" {
		ignoreFaults()
	}
}

// ignoreFaults sets the signals in ignored to SIG_IGN behind the Go
// runtime's back (signal.Ignore only marks them, for SI_USER senders).
func ignoreFaults() {
	// struct sigaction: handler, flags, restorer, mask; SIG_IGN is 1.
	act := [4]uint64{1}
	for _, sig := range ignored {
		unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	}
}

// beforeFinish prepares process 1's exec of .s6-svscan/finish. An
// ignored SIGINT or SIGHUP stays ignored across execve, and a Go program
// (execlineb, svinit-final) keeps it ignored at start-up: a
// ctrl-alt-del in that instant cannot make process 1 exit and panic the
// kernel.
func beforeFinish() {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP)
}

// cannotExit is process 1's end when it has nothing to exec into:
// process 1 must not exit (the kernel would panic), so it syncs and
// powers the machine off.
func (s *Scanner) cannotExit(fin string) {
	fmt.Fprintf(s.opts.Stderr, "%s: PID 1 has nothing to exec into (%s is missing or failed): syncing and powering off\n", s.opts.Prog, fin)
	unix.Sync()
	for {
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		time.Sleep(time.Second)
	}
}
