// Package servicedir reads the configuration files of an s6 service
// directory: run, finish, down, notification-fd, timeout-kill,
// timeout-finish, max-death-tally, down-signal, and log/.
package servicedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults, as s6-supervise has them.
const (
	DefaultTimeoutFinish = 5000 * time.Millisecond
	DefaultMaxDeathTally = 100
	MaxDeathTallyLimit   = 4096
)

// Config is what a service directory asks of its supervisor. It is read
// afresh before each spawn, so edits take effect at the next start.
type Config struct {
	Dir            string
	NotificationFd int           // -1: no readiness notification
	TimeoutKill    time.Duration // 0: never SIGKILL after the down signal
	TimeoutFinish  time.Duration // 0: no limit for ./finish
	MaxDeathTally  int
	DownSignal     syscall.Signal
	HasFinish      bool
	Down           bool // ./down exists: not started at first
	HasLog         bool // ./log is a directory
}

// Load reads dir's configuration. It fails, naming the file and the fix,
// when ./run is missing or not executable or a configuration file is
// malformed; the supervisor refuses to start such a service.
func Load(dir string) (Config, error) {
	c := Config{Dir: dir, NotificationFd: -1, TimeoutFinish: DefaultTimeoutFinish,
		MaxDeathTally: DefaultMaxDeathTally, DownSignal: syscall.SIGTERM}
	if err := CheckExecutable(filepath.Join(dir, "run")); err != nil {
		return c, err
	}
	var err error
	if c.NotificationFd, err = readUint(dir, "notification-fd", -1, 0, 1<<20); err != nil {
		return c, err
	}
	if c.NotificationFd >= 0 && c.NotificationFd <= 2 {
		return c, fmt.Errorf("%s: %d is stdin, stdout or stderr: use 3 or more", filepath.Join(dir, "notification-fd"), c.NotificationFd)
	}
	ms, err := readUint(dir, "timeout-kill", 0, 0, 1<<40)
	if err != nil {
		return c, err
	}
	c.TimeoutKill = time.Duration(ms) * time.Millisecond
	ms, err = readUint(dir, "timeout-finish", int(DefaultTimeoutFinish/time.Millisecond), 0, 1<<40)
	if err != nil {
		return c, err
	}
	c.TimeoutFinish = time.Duration(ms) * time.Millisecond
	if c.MaxDeathTally, err = readUint(dir, "max-death-tally", DefaultMaxDeathTally, 0, MaxDeathTallyLimit); err != nil {
		return c, err
	}
	if s, ok, err := readLine(dir, "down-signal"); err != nil {
		return c, err
	} else if ok {
		if c.DownSignal, err = ParseSignal(s); err != nil {
			return c, fmt.Errorf("%s: %w", filepath.Join(dir, "down-signal"), err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "finish")); err == nil && fi.Mode().IsRegular() {
		c.HasFinish = true
	}
	if _, err := os.Lstat(filepath.Join(dir, "down")); err == nil {
		c.Down = true
	}
	if fi, err := os.Stat(filepath.Join(dir, "log")); err == nil && fi.IsDir() {
		c.HasLog = true
	}
	return c, nil
}

// CheckExecutable reports why path cannot be executed, if it cannot.
func CheckExecutable(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: missing: a service needs an executable run file", path)
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if err := unix.Access(path, unix.X_OK); err != nil {
		return fmt.Errorf("%s: not executable (chmod +x %s)", path, path)
	}
	return nil
}

// readLine returns the first line of dir/name, trimmed; ok is false when
// the file does not exist.
func readLine(dir, name string) (string, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s), true, nil
}

func readUint(dir, name string, def, min, max int) (int, error) {
	s, ok, err := readLine(dir, name)
	if err != nil || !ok {
		return def, err
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || int(n) < min || int(n) > max {
		return def, fmt.Errorf("%s: %q is not an integer between %d and %d", filepath.Join(dir, name), s, min, max)
	}
	return int(n), nil
}

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

// ParseSignal accepts "SIGTERM", "TERM" or "15".
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n > 0 && n < 65 {
			return syscall.Signal(n), nil
		}
		return 0, fmt.Errorf("signal number %d out of range 1..64", n)
	}
	if sig, ok := signals[strings.TrimPrefix(strings.ToUpper(s), "SIG")]; ok {
		return sig, nil
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
