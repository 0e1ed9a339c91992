package servicedir

// Signal names, as down-signal and the tools spell them.

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

var signals = map[string]syscall.Signal{
	"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT, "ILL": syscall.SIGILL,
	"TRAP": syscall.SIGTRAP, "ABRT": syscall.SIGABRT, "BUS": syscall.SIGBUS, "FPE": syscall.SIGFPE,
	"KILL": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "SEGV": syscall.SIGSEGV, "USR2": syscall.SIGUSR2,
	"PIPE": syscall.SIGPIPE, "ALRM": syscall.SIGALRM, "TERM": syscall.SIGTERM, "STKFLT": syscall.SIGSTKFLT,
	"CHLD": syscall.SIGCHLD, "CONT": syscall.SIGCONT, "STOP": syscall.SIGSTOP, "TSTP": syscall.SIGTSTP,
	"TTIN": syscall.SIGTTIN, "TTOU": syscall.SIGTTOU, "URG": syscall.SIGURG, "XCPU": syscall.SIGXCPU,
	"XFSZ": syscall.SIGXFSZ, "VTALRM": syscall.SIGVTALRM, "PROF": syscall.SIGPROF, "WINCH": syscall.SIGWINCH,
	"IO": syscall.SIGIO, "PWR": syscall.SIGPWR, "SYS": syscall.SIGSYS,
}

// aliases are the other names skalibs accepts for Linux signals.
var aliases = map[string]syscall.Signal{"IOT": syscall.SIGABRT, "CLD": syscall.SIGCHLD, "POLL": syscall.SIGIO, "UNUSED": syscall.SIGSYS}

// ParseSignal accepts a signal name with or without "SIG", in any case
// ("SIGTERM", "term"), or a number from 1 to 64.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, ok := ParseUint(s); ok {
		if n > 0 && n < 65 {
			return syscall.Signal(n), nil
		}
		return 0, fmt.Errorf("signal number %d out of range 1..64", n)
	}
	name := strings.ToUpper(s)
	for _, n := range []string{name, strings.TrimPrefix(name, "SIG")} {
		if sig, ok := signals[n]; ok {
			return sig, nil
		}
		if sig, ok := aliases[n]; ok {
			return sig, nil
		}
	}
	if n, ok := ParseUint(strings.TrimPrefix(name, "SIG")); ok && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	return 0, fmt.Errorf("unknown signal %q (use a name like SIGTERM or a number)", s)
}

// SignalName returns "SIGTERM" for SIGTERM, or "SIG<n>" for unnamed ones.
func SignalName(sig syscall.Signal) string {
	for k, v := range signals {
		if v == sig {
			return "SIG" + k
		}
	}
	return "SIG" + strconv.Itoa(int(sig))
}
