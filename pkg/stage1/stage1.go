// Package stage1 is svinit's first boot stage: the work /init does as
// process 1 before it becomes svscan. Every path is taken relative to an
// injectable root directory and every system call goes through an
// injectable Sys, so the plan can be tested unprivileged against a fake
// root. The uinit command is a thin wrapper around Boot.
package stage1

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/fifo"
)

// Environment markers the re-executed /init looks at (see Stage2Child).
const (
	EnvStage2     = "SVINIT_STAGE2"      // "1": run as the stage-2 child
	EnvStage2FIFO = "SVINIT_STAGE2_FIFO" // the FIFO to open; empty: keep stdio
	EnvStage2Prog = "SVINIT_STAGE2_PROG" // the stage-2 program to exec
)

// RescueShells are tried in order for the rescue shell. getty (run with
// no arguments: the kernel's console) comes first: its shell never
// queries the terminal and never swallows what is typed, and it asks for
// the console password when the image has one. gosh's line editor can
// lose input and deadlock (see docs/getty.md).
var RescueShells = []string{"/bin/getty", "/bin/sh", "/bin/gosh", "/bbin/getty", "/bbin/sh", "/bbin/gosh"}

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
	Root    string         // "/" in real life, a temporary directory in tests
	Cmdline bootfs.Cmdline // parsed kernel command line
	Sys     Sys            // system calls
	Console io.Writer      // where messages go (the console)

	// StartChild starts the stage-2 child (nil: StartStage2).
	StartChild func(fifoPath string, env []string) error
	// RescueShell replaces Rescue (tests: it must not return either,
	// e.g. it panics).
	RescueShell func(reason string)
}

// P returns the path p (absolute, as seen in the image) under s.Root.
func (s *Stage1) P(p string) string { return bootfs.Under(s.Root, p) }

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

// mounted reports whether target is already a mount point of type fstype
// according to Root's /proc/mounts (false when that cannot be read).
func (s *Stage1) mounted(target, fstype string) bool {
	ms, _ := bootfs.ReadMounts(s.P(bootfs.ProcMounts))
	return ms.Has(target, fstype)
}

// MountAll mounts bootfs.EarlyMounts, creating the mount points. A file
// system already mounted there (listed in /proc/mounts, or EBUSY) is
// fine, and so is a kernel without an optional one. It returns the
// first error that is not tolerated, after trying every mount.
func (s *Stage1) MountAll() error {
	var first error
	for _, m := range bootfs.EarlyMounts {
		if err := s.mountOne(m); err != nil && first == nil {
			first = err
		}
	}
	// Every controller for the services' cgroups (svinit/NAME under
	// the root, package cgroup). Without cgroup2 there is no file.
	on, err := cgroup.EnableAll(s.P("/sys/fs/cgroup"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.Logf("cgroup controllers: %v", err)
	} else if err == nil {
		s.Debugf("cgroup controllers for the services: %s", strings.Join(on, " "))
	}
	return first
}

func (s *Stage1) mountOne(m bootfs.MountSpec) error {
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
	p := s.P(bootfs.Console)
	f, err := os.OpenFile(p, os.O_RDWR|unix.O_NOCTTY, 0)
	if errors.Is(err, os.ErrNotExist) {
		if merr := s.Sys.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(5, 1))); merr != nil {
			return nil, fmt.Errorf("%s is missing and cannot be created: %w", bootfs.Console, merr)
		}
		f, err = os.OpenFile(p, os.O_RDWR|unix.O_NOCTTY, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", bootfs.Console, err)
	}
	for fd := 0; fd < 3; fd++ {
		if err := s.Sys.Dup2(int(f.Fd()), fd); err != nil {
			f.Close()
			return nil, fmt.Errorf("put %s on fd %d: %w", bootfs.Console, fd, err)
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
		b, err := os.ReadFile(s.P(bootfs.HostnameFile))
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				s.Logf("read %s: %v", bootfs.HostnameFile, err)
			}
			return nil
		}
		line, _, _ := strings.Cut(string(b), "\n")
		h = strings.TrimSpace(line)
		from = bootfs.HostnameFile
		if h == "" {
			return nil
		}
		if err := bootfs.ValidHostname(h); err != nil {
			return fmt.Errorf("%s: %w", bootfs.HostnameFile, err)
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
	return bootfs.Stage2
}

// HaveLogger reports whether the scan directory holds the catch-all
// logger service (a svscan-log directory with a run file).
func (s *Stage1) HaveLogger() bool {
	fi, err := os.Stat(s.P(bootfs.LoggerService + "/run"))
	return err == nil && fi.Mode().IsRegular()
}

// MakeFIFO creates the catch-all logger's FIFO, mode 0600. An existing
// FIFO is kept; anything else in its place is replaced.
func (s *Stage1) MakeFIFO() error {
	p := s.P(bootfs.LoggerFIFO)
	if fi, err := os.Lstat(p); err == nil {
		if fi.Mode()&os.ModeNamedPipe != 0 {
			return os.Chmod(p, 0o600)
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("replace %s with a FIFO: %w", bootfs.LoggerFIFO, err)
		}
	}
	if err := unix.Mkfifo(p, 0o600); err != nil {
		return fmt.Errorf("create the catch-all logger FIFO %s: %w", bootfs.LoggerFIFO, err)
	}
	return os.Chmod(p, 0o600) // whatever the umask
}
