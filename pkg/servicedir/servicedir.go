// Package servicedir reads the configuration files of an s6 service
// directory: run, finish, down, notification-fd, timeout-kill,
// timeout-finish, max-death-tally, down-signal, and log/.
package servicedir

import (
	"bytes"
	"encoding/binary"
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
	// One listing says which optional files exist, so only those are
	// opened (a scanner loads every new service; most have none).
	ents := listDir(dir)
	has := func(name string) bool {
		if ents == nil {
			return true // cannot list: try every file
		}
		_, ok := ents[name]
		return ok
	}
	// is reports whether name exists and, following symbolic links, has
	// the file type mode (unix.S_IFREG or unix.S_IFDIR).
	is := func(name string, mode uint32, dt uint8) bool {
		if !has(name) {
			return false
		}
		if t, ok := ents[name]; ok && t != unix.DT_UNKNOWN && t != unix.DT_LNK {
			return t == dt
		}
		var st unix.Stat_t
		return unix.Stat(filepath.Join(dir, name), &st) == nil && st.Mode&unix.S_IFMT == mode
	}
	uint := func(name string, def, min, max int) (int, error) {
		if !has(name) {
			return def, nil
		}
		return readUint(dir, name, def, min, max)
	}
	var err error
	if c.NotificationFd, err = uint("notification-fd", -1, 0, 1<<20); err != nil {
		return c, err
	}
	if c.NotificationFd >= 0 && c.NotificationFd <= 2 {
		return c, fmt.Errorf("%s: %d is stdin, stdout or stderr: use 3 or more", filepath.Join(dir, "notification-fd"), c.NotificationFd)
	}
	ms, err := uint("timeout-kill", 0, 0, 1<<40)
	if err != nil {
		return c, err
	}
	c.TimeoutKill = time.Duration(ms) * time.Millisecond
	ms, err = uint("timeout-finish", int(DefaultTimeoutFinish/time.Millisecond), 0, 1<<40)
	if err != nil {
		return c, err
	}
	c.TimeoutFinish = time.Duration(ms) * time.Millisecond
	if c.MaxDeathTally, err = uint("max-death-tally", DefaultMaxDeathTally, 0, MaxDeathTallyLimit); err != nil {
		return c, err
	}
	if has("down-signal") {
		if s, ok, err := readLine(dir, "down-signal"); err != nil {
			return c, err
		} else if ok {
			if c.DownSignal, err = ParseSignal(s); err != nil {
				return c, fmt.Errorf("%s: %w", filepath.Join(dir, "down-signal"), err)
			}
		}
	}
	c.HasFinish = is("finish", unix.S_IFREG, unix.DT_REG)
	if has("down") {
		var st unix.Stat_t
		c.Down = unix.Lstat(filepath.Join(dir, "down"), &st) == nil
	}
	c.HasLog = is("log", unix.S_IFDIR, unix.DT_DIR)
	return c, nil
}

// listDir returns the names in dir with their d_type, or nil if dir
// cannot be listed.
func listDir(dir string) map[string]uint8 {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	ents := map[string]uint8{}
	var buf [4096]byte
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil
		}
		if n <= 0 {
			return ents
		}
		// struct linux_dirent64: ino (8), off (8), reclen (2), type (1),
		// name (NUL-terminated).
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return nil
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			ents[string(name)] = b[18]
			b = b[reclen:]
		}
	}
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
