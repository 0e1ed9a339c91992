// Package stage1 is svinit's first boot stage: the work /init does as
// process 1 before it becomes svscan. Every path is taken relative to an
// injectable root directory and every system call goes through an
// injectable Sys, so the plan can be tested unprivileged against a fake
// root. The uinit command is a thin wrapper around Boot.
package stage1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/fifo"
)

// Fixed image locations (see docs/boot.md).
const (
	DefaultStage2 = "/etc/svinit/stage2"
	SeedScandir   = "/etc/svinit/scandir"
	Scandir       = "/run/service"
	LoggerService = Scandir + "/svscan-log"
	LoggerFIFO    = LoggerService + "/fifo"
	Svscan        = "/bin/svscan"
	HostnameFile  = "/etc/hostname"
	Console       = "/dev/console"
	DefaultPath   = "/bin:/sbin:/bbin"
)

// Environment markers the re-executed /init looks at (see Stage2Child).
const (
	EnvStage2     = "SVINIT_STAGE2"      // "1": run as the stage-2 child
	EnvStage2FIFO = "SVINIT_STAGE2_FIFO" // the FIFO to open; empty: keep stdio
	EnvStage2Prog = "SVINIT_STAGE2_PROG" // the stage-2 program to exec
)

// RescueShells are tried in order for the rescue shell.
var RescueShells = []string{"/bin/gosh", "/bin/sh", "/bbin/gosh", "/bbin/sh"}

// Sys holds the system calls stage 1 makes, so tests can record them.
// Run needs them all; the single steps (MountAll, SetupConsole, ...)
// only the first four.
type Sys struct {
	Mount       func(source, target, fstype string, flags uintptr, data string) error
	Mknod       func(path string, mode uint32, dev int) error
	Sethostname func(name []byte) error
	Dup2        func(oldfd, newfd int) error

	Umask func(mask int) int
	// OpenFIFOWriter opens a FIFO for writing without waiting for a
	// reader, and leaves the descriptor blocking (see pkg/fifo).
	OpenFIFOWriter func(path string) (int, error)
	IgnoreSIGPIPE  func()
	Reboot         func(cmd int) error
	// Exec replaces the process; it returns only on failure.
	Exec func(path string, argv, env []string) error
}

// RealSys returns the system's own calls.
func RealSys() Sys {
	return Sys{
		Mount:       unix.Mount,
		Mknod:       unix.Mknod,
		Sethostname: unix.Sethostname,
		Dup2:        func(o, n int) error { return unix.Dup3(o, n, 0) },
		Umask:       unix.Umask,
		OpenFIFOWriter: func(p string) (int, error) {
			return fifo.OpenWriter(p, unix.O_CLOEXEC, true)
		},
		// Ignored (not caught) so that it survives the exec into svscan.
		IgnoreSIGPIPE: func() { signal.Ignore(unix.SIGPIPE) },
		Reboot:        unix.Reboot,
		Exec:          unix.Exec,
	}
}

// Stage1 is one run of stage 1 against Root.
type Stage1 struct {
	Root    string    // "/" in real life, a temporary directory in tests
	Cmdline Cmdline   // parsed kernel command line
	Sys     Sys       // system calls
	Console io.Writer // where messages go (the console)

	// StartChild starts the stage-2 child (nil: StartStage2).
	StartChild func(fifoPath string, env []string) error
	// RescueShell replaces Rescue (tests: it must not return either,
	// e.g. it panics).
	RescueShell func(reason string)
}

// P returns the path p (absolute, as seen in the image) under s.Root.
func (s *Stage1) P(p string) string {
	if s.Root == "" || s.Root == "/" {
		return p
	}
	return filepath.Join(s.Root, p)
}

// Logf prints a stage-1 message on the console.
func (s *Stage1) Logf(format string, a ...any) {
	if s.Console != nil {
		fmt.Fprintf(s.Console, "uinit: "+format+"\n", a...)
	}
}

// Debugf prints a message only with svinit.debug.
func (s *Stage1) Debugf(format string, a ...any) {
	if s.Cmdline.Debug {
		s.Logf(format, a...)
	}
}

// A MountSpec is one early file system.
type MountSpec struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
	Optional               bool // a kernel without it is fine (cgroup2)
}

// EarlyMounts is what stage 1 mounts, in order.
var EarlyMounts = []MountSpec{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", false},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", false},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755", false},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "mode=0620,ptmxmode=0666", false},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777", false},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755", false},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", true},
}

// Mountpoints returns the mount points listed in a /proc/mounts-format
// file, in file order, with the octal escapes (\040 ...) decoded.
func Mountpoints(r io.Reader) ([]MountEntry, error) {
	var out []MountEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 {
			continue
		}
		out = append(out, MountEntry{Source: Unescape(f[0]), Target: Unescape(f[1]), FSType: Unescape(f[2])})
	}
	return out, sc.Err()
}

// A MountEntry is one line of /proc/mounts.
type MountEntry struct{ Source, Target, FSType string }

// Unescape decodes the \NNN octal escapes the kernel uses in /proc/mounts.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOct(s[i+1]) && isOct(s[i+2]) && isOct(s[i+3]) {
			v := (int(s[i+1]-'0')<<6 | int(s[i+2]-'0')<<3 | int(s[i+3]-'0'))
			if v < 256 {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

// mounted reports whether target is already a mount point of type fstype
// according to Root's /proc/mounts (false when that cannot be read).
func (s *Stage1) mounted(target, fstype string) bool {
	f, err := os.Open(s.P("/proc/mounts"))
	if err != nil {
		return false
	}
	defer f.Close()
	ms, _ := Mountpoints(f)
	for _, m := range ms {
		if m.Target == target && m.FSType == fstype {
			return true
		}
	}
	return false
}

// MountAll mounts EarlyMounts, creating the mount points. A file system
// already mounted there (listed in /proc/mounts, or EBUSY) is fine, and
// so is a kernel without an optional one. It returns the first error
// that is not tolerated, after trying every mount.
func (s *Stage1) MountAll() error {
	var first error
	for _, m := range EarlyMounts {
		if err := s.mountOne(m); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Stage1) mountOne(m MountSpec) error {
	if s.mounted(m.Target, m.FSType) {
		s.Debugf("%s: %s already mounted", m.Target, m.FSType)
		return nil
	}
	if err := os.MkdirAll(s.P(m.Target), 0o755); err != nil {
		s.Debugf("create %s: %v", m.Target, err)
	}
	err := s.Sys.Mount(m.Source, s.P(m.Target), m.FSType, m.Flags, m.Data)
	switch {
	case err == nil:
		s.Debugf("mounted %s on %s", m.FSType, m.Target)
		return nil
	case errors.Is(err, unix.EBUSY):
		s.Debugf("%s: %s already mounted (EBUSY)", m.Target, m.FSType)
		return nil
	case m.Optional && (errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)):
		s.Logf("%s: no %s support in this kernel; going on without it", m.Target, m.FSType)
		return nil
	}
	s.Logf("mount %s on %s: %v", m.FSType, m.Target, err)
	return fmt.Errorf("mount %s on %s: %w", m.FSType, m.Target, err)
}

// SetupConsole opens /dev/console (creating the node 5:1 when the image
// has none) and puts it on fds 0, 1 and 2. It returns the open file.
func (s *Stage1) SetupConsole() (*os.File, error) {
	p := s.P(Console)
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_NOCTTY, 0)
	if errors.Is(err, os.ErrNotExist) {
		if merr := s.Sys.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(5, 1))); merr != nil {
			return nil, fmt.Errorf("%s is missing and cannot be created: %w", Console, merr)
		}
		f, err = os.OpenFile(p, os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", Console, err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := s.Sys.Dup2(int(f.Fd()), fd); err != nil {
			f.Close()
			return nil, fmt.Errorf("put %s on fd %d: %w", Console, fd, err)
		}
	}
	return f, nil
}

// Hostname sets the host name: svinit.hostname= or hostname= on the
// kernel command line, else the first line of /etc/hostname. No source
// is fine (the kernel's default stays).
func (s *Stage1) Hostname() error {
	h := s.Cmdline.Hostname
	from := "the kernel command line"
	if h == "" {
		b, err := os.ReadFile(s.P(HostnameFile))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				s.Logf("read %s: %v", HostnameFile, err)
			}
			return nil
		}
		line, _, _ := strings.Cut(string(b), "\n")
		h = strings.TrimSpace(line)
		from = HostnameFile
		if h == "" {
			return nil
		}
		if err := ValidHostname(h); err != nil {
			return fmt.Errorf("%s: %w", HostnameFile, err)
		}
	}
	if err := s.Sys.Sethostname([]byte(h)); err != nil {
		return fmt.Errorf("set host name %q (from %s): %w", h, from, err)
	}
	s.Debugf("host name %s (from %s)", h, from)
	return nil
}

// Stage2Path is the stage-2 program: svinit.stage2= or the default.
func (s *Stage1) Stage2Path() string {
	if s.Cmdline.Stage2 != "" {
		return s.Cmdline.Stage2
	}
	return DefaultStage2
}

// HaveLogger reports whether the scan directory holds the catch-all
// logger service (a svscan-log directory with a run file).
func (s *Stage1) HaveLogger() bool {
	fi, err := os.Stat(s.P(LoggerService + "/run"))
	return err == nil && fi.Mode().IsRegular()
}

// MakeFIFO creates the catch-all logger's FIFO, mode 0600. An existing
// FIFO is kept; anything else in its place is replaced.
func (s *Stage1) MakeFIFO() error {
	p := s.P(LoggerFIFO)
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode()&os.ModeNamedPipe != 0 {
			return os.Chmod(p, 0o600)
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("replace %s with a FIFO: %w", LoggerFIFO, err)
		}
	}
	if err := unix.Mkfifo(p, 0o600); err != nil {
		return fmt.Errorf("create the catch-all logger FIFO %s: %w", LoggerFIFO, err)
	}
	return os.Chmod(p, 0o600) // whatever the umask
}
