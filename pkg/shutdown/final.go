package shutdown

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

// Defaults for the final stage.
const (
	DefaultGrace    = 3 * time.Second // TERM to KILL, cut short when nothing is left
	DefaultKillWait = 2 * time.Second // KILL to unmounting, likewise
)

// FinalSys holds the calls the final stage makes.
type FinalSys struct {
	Kill        func(pid int, sig unix.Signal) error
	Wait4       func() (int, error) // reap one child, blocking; ECHILD when none is left
	StartKiller func() error        // start a child that does kill(-1, SIGKILL)
	After       func(time.Duration) <-chan time.Time
	Sync        func()
	Unmount     func(target string) error
	RemountRO   func(target string) error
	Reboot      func(cmd int) error
	Now         func() time.Time
	// SwitchRoot carries a Switch out: it makes bootfs.RootMount the
	// root and execs the real root's init, returning only on failure.
	SwitchRoot func() error
}

// RealFinalSys returns the system's own calls. startKiller is how the
// caller starts its kill(-1, SIGKILL) child (see svinit-final).
func RealFinalSys(startKiller func() error) FinalSys {
	return FinalSys{
		Kill: unix.Kill,
		Wait4: func() (int, error) {
			var ws unix.WaitStatus
			return unix.Wait4(-1, &ws, 0, nil)
		},
		StartKiller: startKiller,
		After:       time.After,
		Sync:        unix.Sync,
		Unmount:     func(t string) error { return unix.Unmount(t, 0) },
		RemountRO: func(t string) error {
			return unix.Mount("", t, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
		},
		Reboot: unix.Reboot,
		Now:    time.Now,
	}
}

// Final is the final stage: what process 1 does once svscan is gone.
type Final struct {
	Action     Action        // None: DefaultAction
	Since      time.Time     // when the shutdown began (zero: when Run starts)
	Grace      time.Duration // TERM to KILL
	KillWait   time.Duration // KILL to unmounting
	MountsFile string        // bootfs.ProcMounts
	Out        io.Writer     // the console
	Verbose    bool          // name every file system unmounted
	Sys        FinalSys
}

func (f *Final) logf(format string, a ...any) {
	fmt.Fprintf(f.Out, "svinit-final: "+format+"\n", a...)
}

// Run kills every process, unmounts every file system and calls
// reboot(2). It returns only if reboot(2) fails, with that error.
func (f *Final) Run() error {
	start := f.Sys.Now()
	since := f.Since
	if since.IsZero() || since.After(start) {
		since = start
	}
	a := f.Action
	if a == None {
		a = DefaultAction
		f.logf("no shutdown action recorded in %s; default: %s", bootfs.ShutdownRecord, a)
	}

	// Everybody but us gets TERM (and CONT, so stopped ones see it).
	f.Sys.Sync()
	f.Sys.Kill(-1, unix.SIGTERM)
	f.Sys.Kill(-1, unix.SIGCONT)
	if f.waitEmpty(f.Grace) {
		f.logf("every process gone after %v", round(f.Sys.Now().Sub(start)))
	} else {
		f.logf("processes left after the %v grace period; sending KILL", f.Grace)
		// From a child: kill(-1, SIGKILL) can block on processes in
		// uninterruptible sleep, and process 1 must go on.
		if err := f.Sys.StartKiller(); err != nil {
			f.logf("start the KILL child: %v; sending KILL myself", err)
			go f.Sys.Kill(-1, unix.SIGKILL)
		}
		if !f.waitEmpty(f.KillWait) {
			f.logf("processes left after KILL (uninterruptible?); unmounting anyway")
		}
	}

	f.Sys.Sync()
	if a == Switch {
		// What the real root does not take along is unmounted: the
		// file systems the initramfs mounted for itself.
		f.unmountAll(func(t string) bool { return !keptBySwitch(t) })
		f.Sys.Sync()
		f.logf("switch: the initramfs ended %v after the request; handing over to the real root", round(f.Sys.Now().Sub(since)))
		if f.Sys.SwitchRoot == nil {
			return errors.New("switch: no way to switch roots here")
		}
		return f.Sys.SwitchRoot()
	}
	f.unmountAll(func(string) bool { return true })
	f.Sys.Sync()
	f.logf("%s: orderly shutdown took %v", a, round(f.Sys.Now().Sub(since)))
	err := f.Sys.Reboot(a.RebootCmd())
	if a == Kexec {
		// The loaded kernel went away (unloaded since the request) or
		// the kernel refused: a plain reboot is the nearest thing.
		f.logf("kexec: reboot(2) with LINUX_REBOOT_CMD_KEXEC: %v; rebooting instead", err)
		return f.Sys.Reboot(Reboot.RebootCmd())
	}
	return err
}

// keptBySwitch reports whether the mount at target survives a switch:
// "/" (the switch deletes its contents itself), the real root and what
// is mounted under it, and the kernel file systems the switch moves.
func keptBySwitch(target string) bool {
	if target == "/" {
		return true
	}
	for _, k := range append([]string{bootfs.RootMount}, bootfs.SwitchMounts...) {
		if target == k || strings.HasPrefix(target, k+"/") {
			return true
		}
	}
	return false
}

// waitEmpty reaps children until none is left (true) or d passes
// (false). The reaping goroutine of a timed-out wait carries on reaping.
func (f *Final) waitEmpty(d time.Duration) bool {
	empty := make(chan struct{})
	go func() {
		for {
			_, err := f.Sys.Wait4()
			switch {
			case err == nil, errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.ECHILD):
				close(empty)
			}
			return
		}
	}()
	select {
	case <-empty:
		return true
	case <-f.Sys.After(d):
		// Nothing left may have coincided with the deadline.
		select {
		case <-empty:
			return true
		default:
			return false
		}
	}
}

// unmountAll unmounts every file system that want selects in reverse
// /proc/mounts order, remounting read-only the ones that will not
// unmount.
func (f *Final) unmountAll(want func(target string) bool) {
	mf, err := os.Open(f.MountsFile)
	if err != nil {
		f.logf("read %s: %v; nothing unmounted", f.MountsFile, err)
		return
	}
	ms, err := bootfs.ParseMounts(mf)
	mf.Close()
	if err != nil {
		f.logf("read %s: %v", f.MountsFile, err)
	}
	var unmounted, readonly, left int
	for i := len(ms) - 1; i >= 0; i-- {
		t := ms[i].Target
		if !want(t) {
			continue
		}
		if err := f.Sys.Unmount(t); err == nil {
			unmounted++
			if f.Verbose {
				f.logf("unmounted %s", t)
			}
			continue
		}
		if err := f.Sys.RemountRO(t); err == nil {
			readonly++
			if f.Verbose {
				f.logf("remounted %s read-only", t)
			}
			continue
		} else if f.Verbose {
			f.logf("%s: cannot unmount or remount read-only: %v", t, err)
		}
		left++
	}
	f.logf("file systems: %d unmounted, %d remounted read-only, %d left as they were", unmounted, readonly, left)
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
