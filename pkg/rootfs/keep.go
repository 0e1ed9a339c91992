package rootfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient"
	"github.com/svinit/svinit/pkg/tai64n"
)

// Keeper carries out the second way to hand over (svinit.keep): svinit
// stays process 1, the supervision tree survives, and the scanner ends
// up with the real root as "/". See docs/booting-a-real-root.md.
type Keeper struct {
	NewRoot string    // where the real root is mounted (bootfs.RootMount)
	Scandir string    // the scan directory (bootfs.Scandir)
	Out     io.Writer // the catch-all log (and the console)
	// ChangeScannerRoot asks the scanner, process 1, to make newRoot
	// its root; scandir is the scan directory as the caller sees it
	// then (under newRoot). It returns once the scanner has done it.
	ChangeScannerRoot func(newRoot, scandir string) error
	// ReexecScanner has the scanner re-exec itself as prog, a program
	// of the real root, its state handed over (svscanctl -E); it
	// returns once process 1 runs prog.
	ReexecScanner func(prog string) error
	// Run runs a program of the real root (after the switch), its
	// output to Out.
	Run func(argv ...string) error
	// Timeout bounds each wait for a service (the catch-all logger
	// down and up again, a restart).
	Timeout time.Duration
	Now     func() time.Time
}

// KeepStats says what a Keep did and how long each step took.
type KeepStats struct {
	Bound []string // kernel mounts bound into the real root
	// The steps: checks; binding the mounts; the scanner's change of
	// root; this process's own chroot; the catch-all log onto the disk;
	// the scanner's re-exec from the real root; deleting the initramfs;
	// the real root's services up (svrc), at the same time as the
	// deletion.
	Check, Move, Scanner, Chroot, Log, Reexec, Delete, Rc time.Duration

	Files    int    // initramfs files and directories deleted
	Freed    int64  // bytes of file data deleted
	MemFreed int64  // MemFree after the deletion minus before (bytes)
	LogDir   string // where the catch-all log now goes ("" if it stayed)
	LogFiles int    // files of the catch-all log copied there
}

// NewKeeper returns a Keeper on the running system: the scanner is
// asked as svscanctl -R and -E ask it, programs run with the image's
// PATH.
func NewKeeper(out io.Writer) *Keeper {
	return &Keeper{
		NewRoot: bootfs.RootMount, Scandir: bootfs.Scandir, Out: out,
		ChangeScannerRoot: func(newRoot, scandir string) error {
			fd, err := unix.Open(newRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if err := askScanner(scandir, servicedir.ScanRootRequest, newRoot, 'R'); err != nil {
				return err
			}
			return waitRoot(fd, 1, 10*time.Second)
		},
		ReexecScanner: func(prog string) error {
			if err := askScanner(bootfs.Scandir, servicedir.ScanExecRequest, prog, 'U'); err != nil {
				return err
			}
			return waitExe(1, prog, 10*time.Second)
		},
		Run:     func(argv ...string) error { return runOut(out, argv...) },
		Timeout: 10 * time.Second,
		Now:     time.Now,
	}
}

// askScanner asks the scanner of scandir what svscanctl -R or -E asks:
// the argument in .s6-svscan's request file, then the letter (without
// a process of svscanctl's own: tens of milliseconds under emulation).
func askScanner(scandir, request, arg string, letter byte) error {
	ctl := filepath.Join(scandir, ".s6-svscan", "control")
	fd, err := unix.Open(ctl, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: no scanner listens: %w", ctl, err)
	}
	defer unix.Close(fd)
	if err := servicedir.WriteScanRequest(scandir, request, arg); err != nil {
		return fmt.Errorf("%s: %w", scandir, err)
	}
	if _, err := unix.Write(fd, []byte{letter}); err != nil {
		return fmt.Errorf("%s: %w", ctl, err)
	}
	return nil
}

func runOut(out io.Writer, argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return nil
}

func (k *Keeper) logf(format string, a ...any) {
	fmt.Fprintf(k.Out, "svinit-switch-root: "+format+"\n", a...)
}

// CheckKeep reports whether the real root mounted at newRoot can take
// the supervision tree over: it needs a directory for each of
// bootfs.SwitchMounts (the scan directory lives in /run) and svinit's
// own programs (bootfs.KeepPrograms), which everything supervised runs
// from the real root after the switch.
func CheckKeep(newRoot string) error {
	var missing []string
	for _, m := range bootfs.SwitchMounts {
		if fi, err := os.Stat(filepath.Join(newRoot, m)); err != nil || !fi.IsDir() {
			missing = append(missing, m+"/")
		}
	}
	for _, p := range bootfs.KeepPrograms {
		if CheckInit(newRoot, p) != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("svinit.keep: the real root %s lacks %s (svinit's commands must be installed there; without svinit.keep the real root's init takes over)",
			newRoot, strings.Join(missing, " "))
	}
	return nil
}

// Keep switches roots under the running supervision tree: it binds the
// kernel mounts into the real root (they stay in the initramfs too,
// for the kept services, whose root does not change), has the scanner
// change its root, follows it, moves the catch-all log onto the real root's disk,
// restarts the services that run programs from the initramfs
// (bootfs.RestartOnSwitch), and brings the real root's services up
// (bootfs.RealRootRc, bundle bootfs.KeepBundle) while it deletes the
// initramfs. Errors before the
// scanner's change of root leave the initramfs the root; later ones are
// reported and the rest is still done. It is Switch, then Finish.
func (k *Keeper) Keep() (KeepStats, error) {
	stats, old, err := k.Switch()
	if old.Fd < 0 {
		return stats, err
	}
	defer unix.Close(old.Fd)
	ferr := k.Finish(old, &stats)
	return stats, errors.Join(err, ferr)
}

// OldRoot is the initramfs after Switch: a descriptor of its root
// directory (close-on-exec: clear it to hand it over to another
// program, which then calls Finish) and its device.
type OldRoot struct {
	Fd  int
	Dev uint64
}

// Switch is Keep up to the deletion of the initramfs: everything but
// Finish. old.Fd is -1 unless the scanner's root has changed; then the
// caller owns it.
func (k *Keeper) Switch() (stats KeepStats, old OldRoot, err error) {
	old.Fd = -1
	start := k.Now()
	var sfs unix.Statfs_t
	if err := unix.Statfs("/", &sfs); err != nil {
		return stats, old, fmt.Errorf("statfs /: %w", err)
	}
	if t := int64(sfs.Type); t != unix.RAMFS_MAGIC && t != unix.TMPFS_MAGIC {
		return stats, old, fmt.Errorf("/ is not an initramfs (ramfs or tmpfs, type %#x)", t)
	}
	var rootSt, newSt unix.Stat_t
	if err := unix.Stat("/", &rootSt); err != nil {
		return stats, old, fmt.Errorf("stat /: %w", err)
	}
	if err := unix.Stat(k.NewRoot, &newSt); err != nil {
		return stats, old, fmt.Errorf("new root: %w", err)
	}
	if newSt.Dev == rootSt.Dev {
		return stats, old, fmt.Errorf("new root %s is not a mounted file system", k.NewRoot)
	}
	if err := CheckKeep(k.NewRoot); err != nil {
		return stats, old, err
	}
	oldFd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return stats, old, fmt.Errorf("open the old root: %w", err)
	}
	defer func() {
		if old.Fd < 0 {
			unix.Close(oldFd)
		}
	}()
	newFd, err := unix.Open(k.NewRoot, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return stats, old, fmt.Errorf("open the new root: %w", err)
	}
	defer unix.Close(newFd)
	t := k.Now()
	stats.Check = t.Sub(start)

	for _, m := range bootfs.SwitchMounts {
		var st unix.Stat_t
		if err := unix.Stat(m, &st); err != nil || st.Dev == rootSt.Dev {
			continue // not mounted
		}
		// Bound, not moved: the scanner and every kept service
		// (whose root stays the initramfs) go on finding /run,
		// /proc, /dev and /sys where they were, the same mounts, in
		// the window before the scanner switches and after.
		if err := unix.Mount(m, filepath.Join(k.NewRoot, m), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			k.unbind(stats.Bound)
			return stats, old, fmt.Errorf("bind %s into %s: %w", m, k.NewRoot, err)
		}
		stats.Bound = append(stats.Bound, m)
	}
	stats.Move, t = k.Now().Sub(t), k.Now()

	if err := k.ChangeScannerRoot(k.NewRoot, filepath.Join(k.NewRoot, k.Scandir)); err != nil {
		k.unbind(stats.Bound)
		return stats, old, fmt.Errorf("the scanner's change of root: %w", err)
	}
	stats.Scanner, t = k.Now().Sub(t), k.Now()
	old = OldRoot{Fd: oldFd, Dev: uint64(rootSt.Dev)}

	// Follow the scanner: through the descriptor, as newRoot was
	// moved onto "/" in the meantime.
	if err := unix.Fchdir(newFd); err != nil {
		return stats, old, fmt.Errorf("chdir into the real root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return stats, old, fmt.Errorf("chroot into the real root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return stats, old, fmt.Errorf("chdir / in the real root: %w", err)
	}
	stats.Chroot, t = k.Now().Sub(t), k.Now()

	var errs []error
	n, dir, err := k.MoveCatchAll(bootfs.DiskCatchAllLogDir)
	stats.LogFiles, stats.LogDir = n, dir
	if err != nil {
		errs = append(errs, err)
	}
	stats.Log = k.Now().Sub(t)

	if err := k.restartOnSwitch(); err != nil {
		errs = append(errs, err)
	}

	// The scanner's program is a file of the initramfs: re-exec'd from
	// the real root's, it no longer holds the initramfs's pages.
	t = k.Now()
	if CheckInit("/", bootfs.Svscan) == nil && k.ReexecScanner != nil {
		if err := k.ReexecScanner(bootfs.Svscan); err != nil {
			errs = append(errs, fmt.Errorf("the scanner's re-exec from the real root: %w", err))
		} else {
			stats.Reexec = k.Now().Sub(t)
		}
	}

	return stats, old, errors.Join(errs...)
}

// Finish deletes the initramfs (old) while it brings the real root's
// services up, and adds to stats. Run from a program of the real root
// (svinit-switch-root execs the real root's own), it frees the
// initramfs's programs too: no process maps them any more but the
// services kept from it.
func (k *Keeper) Finish(old OldRoot, stats *KeepStats) error {
	var errs []error
	// The initramfs is deleted while the real root's services come up.
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		t := k.Now()
		before := memFree()
		rs := RemoveContents(old.Fd, old.Dev, 0)
		stats.Files, stats.Freed = rs.Files, rs.Freed
		if after := memFree(); before >= 0 && after >= 0 {
			stats.MemFreed = after - before
		}
		stats.Delete = k.Now().Sub(t)
	}()
	t := k.Now()
	if fi, err := os.Stat(bootfs.RealRootRc); err == nil && fi.IsDir() {
		if err := k.Run("svrc", "-c", bootfs.RealRootRc, "-l", k.Scandir, "-u", "change", bootfs.KeepBundle); err != nil {
			errs = append(errs, fmt.Errorf("the real root's services: %w", err))
		}
		stats.Rc = k.Now().Sub(t)
	} else {
		k.logf("the real root has no %s: no services of its own to bring up", bootfs.RealRootRc)
	}
	<-deleted
	return errors.Join(errs...)
}

// unbind undoes the binds of a switch that cannot go on.
func (k *Keeper) unbind(bound []string) {
	for i := len(bound) - 1; i >= 0; i-- {
		m := filepath.Join(k.NewRoot, bound[i])
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			k.logf("cannot unmount %s: %v", m, err)
		}
	}
}

// restartOnSwitch restarts the services of bootfs.RestartOnSwitch that
// are in the scan directory, and those whose directory has a
// bootfs.RestartOnSwitchFile: they run programs from the initramfs
// (the getty's shells, the device manager's module loading), which
// the switch deleted; started again, they run the real root's.
func (k *Keeper) restartOnSwitch() error {
	ents, err := os.ReadDir(k.Scandir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == bootfs.CatchAllLogger {
			continue
		}
		dir := filepath.Join(k.Scandir, name)
		_, ferr := os.Stat(filepath.Join(dir, bootfs.RestartOnSwitchFile))
		listed := false
		for _, r := range bootfs.RestartOnSwitch {
			listed = listed || r == name
		}
		if ferr != nil && !listed {
			continue
		}
		if up, err := svclient.NormallyUp(dir); err == nil && !up {
			continue
		}
		if err := control(dir, []byte("t")); err != nil {
			errs = append(errs, fmt.Errorf("restart %s in the real root: %w", name, err))
			continue
		}
		k.logf("%s restarted to run from the real root", name)
	}
	return errors.Join(errs...)
}

// MoveCatchAll moves the catch-all log onto the real root's disk,
// into dir, without losing a line: it holds the logger's FIFO open for
// reading (writers never see a broken pipe and what they write waits
// in the pipe), stops the logger at a line's end (svlog exits on HUP
// once the line is written, and consumes from the pipe only what it
// has written), copies bootfs.CatchAllLogDir's files into dir (a
// current file of an earlier boot there is archived first), points the
// logger's run at dir and starts it again. It returns the number of
// files copied and dir; with the real root read-only or a logger whose
// run does not name bootfs.CatchAllLogDir, the log stays where it is
// (dir "").
func (k *Keeper) MoveCatchAll(dir string) (int, string, error) {
	svc := filepath.Join(k.Scandir, bootfs.CatchAllLogger)
	runPath := filepath.Join(svc, "run")
	run, err := os.ReadFile(runPath)
	if err != nil {
		return 0, "", fmt.Errorf("the catch-all logger: %w", err)
	}
	if !bytes.Contains(run, []byte(bootfs.CatchAllLogDir)) {
		k.logf("the catch-all logger's run does not name %s: the catch-all log stays where it is", bootfs.CatchAllLogDir)
		return 0, "", nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, unix.EROFS) {
			k.logf("the real root is read-only (no rw): the catch-all log stays in %s", bootfs.CatchAllLogDir)
			return 0, "", nil
		}
		return 0, "", fmt.Errorf("catch-all log directory: %w", err)
	}
	hold, err := unix.Open(filepath.Join(svc, "fifo"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", fmt.Errorf("hold the catch-all FIFO: %w", err)
	}
	defer unix.Close(hold)
	w, err := svclient.Listen([]string{svc})
	if err != nil {
		return 0, "", fmt.Errorf("the catch-all logger's events: %w", err)
	}
	defer w.Close()
	// d: wanted down (svlog -p ignores the TERM it brings); h: HUP,
	// svlog's "exit at the end of the line".
	if err := control(svc, []byte("dh")); err != nil {
		return 0, "", fmt.Errorf("stop the catch-all logger: %w", err)
	}
	if _, err := w.Wait(svclient.Goal{}, false, k.Now().Add(k.Timeout)); err != nil {
		control(svc, []byte("u"))
		return 0, "", fmt.Errorf("the catch-all logger did not stop: %w", err)
	}
	n, cerr := CopyLogDir(bootfs.CatchAllLogDir, dir, k.Now())
	moved := cerr == nil
	if moved {
		run = bytes.ReplaceAll(run, []byte(bootfs.CatchAllLogDir), []byte(dir))
		if err := writeAtomic(runPath, run, 0o755); err != nil {
			cerr, moved = err, false
		}
	}
	if !moved {
		k.logf("the catch-all log stays in %s: %v", bootfs.CatchAllLogDir, cerr)
	}
	if err := control(svc, []byte("u")); err != nil {
		return n, "", fmt.Errorf("start the catch-all logger again: %w", err)
	}
	goal := svclient.Goal{Up: true}
	if _, err := os.Stat(filepath.Join(svc, "notification-fd")); err == nil {
		goal.Ready = true
	}
	if _, err := w.Wait(goal, false, k.Now().Add(k.Timeout)); err != nil {
		return n, "", fmt.Errorf("the catch-all logger did not start again: %w", err)
	}
	if !moved {
		return n, "", cerr
	}
	return n, dir, nil
}

// CopyLogDir copies the files of svlog directory from (archives,
// current, state; not its lock) into to. A non-empty current already
// in to, from an earlier boot, is first archived under an archive's
// name (@TAI64N.s, now's stamp) so that nothing is overwritten. The
// copies are synced. It returns the number of files copied.
func CopyLogDir(from, to string, now time.Time) (int, error) {
	ents, err := os.ReadDir(from)
	if err != nil {
		return 0, err
	}
	cur := filepath.Join(to, "current")
	if fi, err := os.Stat(cur); err == nil && fi.Size() > 0 {
		if err := os.Rename(cur, filepath.Join(to, tai64n.FromTime(now).Label()+".s")); err != nil {
			return 0, fmt.Errorf("archive the earlier boot's %s: %w", cur, err)
		}
	}
	n := 0
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "lock" {
			continue
		}
		if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return n, err
		}
		n++
	}
	d, err := os.Open(to)
	if err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s to %s: %w", from, to, err)
	}
	return nil
}

// control writes letters to the control FIFO of the supervisor of
// service directory dir, as svc does.
func control(dir string, letters []byte) error {
	p := filepath.Join(dir, "supervise", "control")
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENXIO) {
			return fmt.Errorf("%s: no supervisor listens", p)
		}
		return fmt.Errorf("%s: %w", p, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, letters); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// writeAtomic replaces path with data (a temporary file renamed over
// it).
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitRoot waits until process pid's root is directory root (a
// descriptor: the path may have moved), looking through root's own
// proc/ (the caller moved /proc there). svscanctl -R only asks: the
// scanner changes its root when it reads the letter, a moment later;
// there is no event to wait for, so this looks every millisecond, up
// to timeout.
func waitRoot(root, pid int, timeout time.Duration) error {
	var want unix.Stat_t
	if err := unix.Fstat(root, &want); err != nil {
		return err
	}
	link := "proc/" + strconv.Itoa(pid) + "/root/"
	deadline := time.Now().Add(timeout)
	for {
		var st unix.Stat_t
		err := unix.Fstatat(root, link, &st, 0)
		if err == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("process %d's root: %w", pid, err)
			}
			return fmt.Errorf("process %d's root is still not the new root after %v (see the scanner's message in the catch-all log)", pid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitExe waits until process pid runs program prog (the same file),
// looking every millisecond up to timeout: svscanctl -E only asks.
func waitExe(pid int, prog string, timeout time.Duration) error {
	var want unix.Stat_t
	if err := unix.Stat(prog, &want); err != nil {
		return err
	}
	exe := "/proc/" + strconv.Itoa(pid) + "/exe"
	deadline := time.Now().Add(timeout)
	for {
		var st unix.Stat_t
		if unix.Stat(exe, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process %d does not run %s after %v (see the scanner's message in the catch-all log)", pid, prog, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// memFree is /proc/meminfo's MemFree in bytes, -1 when unknown.
func memFree() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "MemFree:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb * 1024
		}
	}
	return -1
}
