package shutdown

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
)

// The kexec action: the way down of a reboot, ending in
// reboot(LINUX_REBOOT_CMD_KEXEC) into a kernel loaded beforehand
// (Load) instead of a restart by the firmware.

// KexecLoadedFile is the kernel's flag saying whether a kernel is
// loaded for kexec ("1") or not ("0").
const KexecLoadedFile = "/sys/kernel/kexec_loaded"

// ShutdownCommand is svinit-shutdown in the image, the program svscan's
// .s6-svscan/SIG* hooks run; RequestKexec starts it with "kexec".
const ShutdownCommand = "/bin/svinit-shutdown"

// ErrNoKexecKernel is the error of a kexec request when no kernel is
// loaded.
var ErrNoKexecKernel = errors.New("no kernel is loaded for kexec")

// Load loads kernel (a bzImage), initrd ("" for none) and the kernel
// command line with kexec_file_load(2), replacing any kernel loaded
// before. The kernel runs when the kexec action ends the shutdown
// (RequestKexec, reboot -k).
func Load(kernel, initrd, cmdline string) error {
	k, err := os.Open(kernel)
	if err != nil {
		return fmt.Errorf("kexec: kernel: %w", err)
	}
	defer k.Close()
	initrdFd, flags := -1, 0
	if initrd == "" {
		flags |= unix.KEXEC_FILE_NO_INITRAMFS
	} else {
		i, err := os.Open(initrd)
		if err != nil {
			return fmt.Errorf("kexec: initrd: %w", err)
		}
		defer i.Close()
		initrdFd = int(i.Fd())
	}
	if err := kexecFileLoad(int(k.Fd()), initrdFd, cmdline, flags); err != nil {
		return fmt.Errorf("kexec_file_load %s (initrd %q): %w%s", kernel, initrd, err, kexecHint(err))
	}
	return nil
}

// Unload unloads the kernel Load loaded, if any.
func Unload() error {
	if err := kexecFileLoad(-1, -1, "", unix.KEXEC_FILE_UNLOAD); err != nil {
		return fmt.Errorf("kexec_file_load (unload): %w%s", err, kexecHint(err))
	}
	return nil
}

func kexecHint(err error) string {
	switch {
	case errors.Is(err, unix.EPERM):
		return " (run it as root; with lockdown or kexec_load_disabled set, kexec is refused)"
	case errors.Is(err, unix.ENOSYS):
		return " (the kernel was built without CONFIG_KEXEC_FILE)"
	case errors.Is(err, unix.ENOEXEC):
		return " (not a kernel image this kernel can load: a bzImage is needed)"
	case errors.Is(err, unix.EKEYREJECTED):
		return " (the kernel's signature was refused: CONFIG_KEXEC_SIG_FORCE)"
	}
	return ""
}

// KexecLoaded reports whether a kernel is loaded for kexec, from
// KexecLoadedFile (or the file given).
func KexecLoaded(file string) (bool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("%s: %w (the kernel has no kexec support, CONFIG_KEXEC_FILE)", file, err)
		}
		return false, err
	}
	return strings.TrimSpace(string(b)) == "1", nil
}

// KexecSys is what a kexec request needs: where the kernel says a
// kernel is loaded, the scan directory, and how to start
// svinit-shutdown detached.
type KexecSys struct {
	LoadedFile string // KexecLoadedFile
	Scandir    string // bootfs.Scandir
	// Start starts argv in a session of its own, not waiting for it.
	Start func(argv []string) error
}

// RealKexecSys returns the running system's.
func RealKexecSys() KexecSys {
	return KexecSys{LoadedFile: KexecLoadedFile, Scandir: bootfs.Scandir, Start: startDetached}
}

// RequestKexec asks svinit for the kexec action: every service stopped
// in order and the logs flushed as for a reboot, then the kernel loaded
// with Load runs. It returns once the request is made; the caller, like
// every other process, is stopped on the way down. It refuses, stopping
// nothing, when no kernel is loaded or svscan does not run.
func RequestKexec() error { return RealKexecSys().Request() }

// Check makes a kexec request's checks: a kernel loaded, svscan
// reading its control FIFO.
func (s KexecSys) Check() error {
	ok, err := KexecLoaded(s.LoadedFile)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "kexec: %v", err)
	}
	if !ok {
		return cli.Exitf(cli.ExitSystem, "kexec: %v (%s is 0): load one first (svboot, svnetboot, kexec -l KERNEL, or shutdown.Load); nothing was stopped", ErrNoKexecKernel, s.LoadedFile)
	}
	ctl := filepath.Join(s.Scandir, ".s6-svscan", "control")
	fd, err := unix.Open(ctl, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ENXIO {
		return cli.Exitf(cli.ExitNotSupervised, "kexec: %s: svscan is not running on %s (nobody reads its control FIFO); nothing was stopped", ctl, s.Scandir)
	}
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "kexec: open %s: %v; nothing was stopped", ctl, err)
	}
	unix.Close(fd)
	return nil
}

// Request makes the checks, then starts "svinit-shutdown kexec", what
// a signal hook runs for the other actions: it records the action, runs
// the image's shutdown hook and asks svscan to stop, in a session of
// its own so that stopping the requester's service does not stop it.
func (s KexecSys) Request() error {
	if err := s.Check(); err != nil {
		return err
	}
	if err := s.Start([]string{ShutdownCommand, Kexec.String()}); err != nil {
		return cli.Exitf(cli.ExitSystem, "kexec: start %s: %v", ShutdownCommand, err)
	}
	return nil
}

// startDetached starts argv in a new session, its stdio on the console
// (or /dev/null), and lets it go.
func startDetached(argv []string) error {
	out, err := os.OpenFile(bootfs.Console, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		if out, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
			return err
		}
	}
	defer out.Close()
	p, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{out, out, out},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return err
	}
	return p.Release()
}
