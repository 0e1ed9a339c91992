package svlog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/tai64n"
)

// rotState is where a log directory is in its rotation sequence. Each
// step is retried from where it failed after the retry cooldown.
type rotState uint8

const (
	rsWritable rotState = iota
	rsStart
	rsRename
	rsNewCurrent
	rsChmodPrevious
	rsFinishPrevious
	rsRunProcessor
	rsWaitProcessor
	rsSyncProcessed
	rsSyncNewState
	rsUnlinkPrevious
	rsRenameState
	rsFinishProcessed
)

// Logdir is an open log directory.
type Logdir struct {
	cfg    DirConfig
	mask   uint32 // file mode for current, e.g. 0644 (0666 &^ umask)
	lockFd int
	fd     int    // current, O_APPEND
	size   uint64 // bytes in current

	out    []byte // lines waiting to be written (always whole lines)
	outOff int

	state    rotState
	deadline time.Time // no retry before this

	proc     *exec.Cmd
	procDone func(dir *Logdir, err error) // called from a goroutine
	warn     func(format string, a ...any)
	now      func() time.Time
}

// Archive-name helpers --------------------------------------------------

// isArchive reports whether name is "@" + 24 hex digits + ".s" or ".u".
func isArchive(name string) bool {
	if len(name) != 27 || name[0] != '@' || name[25] != '.' || (name[26] != 's' && name[26] != 'u') {
		return false
	}
	_, err := tai64n.ParseLabel(name[:25])
	return err == nil
}

func (d *Logdir) path(name string) string { return d.cfg.Path + "/" + name }

// OpenLogdir creates (if needed), locks and recovers a log directory the
// way s6-log does, and opens its current file for appending.
func OpenLogdir(cfg DirConfig, mask uint32, warn func(string, ...any)) (*Logdir, error) {
	d := &Logdir{cfg: cfg, mask: mask, lockFd: -1, fd: -1, warn: warn, now: time.Now}
	if d.warn == nil {
		d.warn = func(string, ...any) {}
	}
	if err := unix.Mkdir(cfg.Path, 0o700|unix.S_ISGID); err != nil && err != unix.EEXIST {
		return nil, fmt.Errorf("mkdir %s: %w", cfg.Path, err)
	}
	lock := d.path("lock")
	fd, err := unix.Open(lock, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o666)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", lock, err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &lk); err != nil {
		unix.Close(fd)
		if err == unix.EAGAIN || err == unix.EACCES {
			return nil, fmt.Errorf("lock %s: another logger is already using %s: %w", lock, cfg.Path, unix.EBUSY)
		}
		return nil, fmt.Errorf("lock %s: %w", lock, err)
	}
	d.lockFd = fd
	if err := d.recover(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// recover brings the directory back to a writable state after an
// unclean stop, then opens current.
func (d *Logdir) recover() error {
	cur := d.path("current")
	var st unix.Stat_t
	err := unix.Stat(cur, &st)
	switch {
	case err != nil && err != unix.ENOENT:
		return fmt.Errorf("stat %s: %w", cur, err)
	case err == nil && st.Mode&unix.S_IXUSR != 0:
		// Finalized cleanly by the previous logger: keep appending.
		return d.openCurrent(uint64(st.Size))
	}
	// current is missing or was not finalized: the previous logger was
	// interrupted. Drop processor leftovers and archive what is there.
	_ = unix.Unlink(d.path("state"))
	_ = unix.Unlink(d.path("newstate"))
	processed := false
	if err := unix.Stat(d.path("processed"), &st); err != nil {
		if err != unix.ENOENT {
			return fmt.Errorf("stat %s: %w", d.path("processed"), err)
		}
	} else if st.Mode&unix.S_IXUSR != 0 {
		processed = true
	}
	if processed {
		_ = unix.Unlink(d.path("previous"))
		if err := d.finish("processed", 's'); err != nil {
			return fmt.Errorf("archive %s as .s: %w", d.path("processed"), err)
		}
	} else {
		_ = unix.Unlink(d.path("processed"))
		if err := d.finish("previous", 'u'); err != nil {
			return fmt.Errorf("archive %s as .u: %w", d.path("previous"), err)
		}
	}
	if err := d.finish("current", 'u'); err != nil {
		return fmt.Errorf("archive %s as .u: %w", cur, err)
	}
	fd, err := unix.Open(d.path("state"), unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return fmt.Errorf("create %s: %w", d.path("state"), err)
	}
	unix.Close(fd)
	return d.openCurrent(0)
}

func (d *Logdir) openCurrent(size uint64) error {
	cur := d.path("current")
	fd, err := unix.Open(cur, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return fmt.Errorf("open %s for appending: %w", cur, err)
	}
	if err := unix.Fchmod(fd, d.mask); err != nil {
		unix.Close(fd)
		return fmt.Errorf("chmod %s: %w", cur, err)
	}
	if d.fd >= 0 {
		unix.Close(d.fd)
	}
	d.fd, d.size = fd, size
	return nil
}

// finish archives name as @<now>.<suffix> (link then unlink, so a crash
// in between leaves both names and the next start finishes the job),
// then trims old archives. A missing file is not an error.
func (d *Logdir) finish(name string, suffix byte) error {
	x := d.path(name)
	var st unix.Stat_t
	if err := unix.Stat(x, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Nlink == 1 {
		t := d.now()
		for {
			lbl := tai64n.FromTime(t).Label()
			err := unix.Link(x, d.path(lbl+"."+string(suffix)))
			if err == nil {
				break
			}
			if err != unix.EEXIST {
				return err
			}
			t = t.Add(time.Nanosecond)
		}
	}
	if err := unix.Unlink(x); err != nil {
		return err
	}
	return d.trim()
}

type archive struct {
	name string
	size int64
}

// trim deletes the oldest archives while there are more than n of them
// or they weigh more than S bytes.
func (d *Logdir) trim() error {
	ents, err := os.ReadDir(d.cfg.Path)
	if err != nil {
		return err
	}
	var arcs []archive
	var total uint64
	for _, e := range ents {
		if !isArchive(e.Name()) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(d.path(e.Name()), &st); err != nil {
			d.warn("stat %s: %v", d.path(e.Name()), err)
			continue
		}
		arcs = append(arcs, archive{e.Name(), st.Size})
		total += uint64(st.Size)
	}
	n := uint64(d.cfg.Archives)
	if uint64(len(arcs)) <= n && (d.cfg.TotalSize == 0 || total <= d.cfg.TotalSize) {
		return nil
	}
	sort.Slice(arcs, func(i, j int) bool { return arcs[i].name[1:26] < arcs[j].name[1:26] })
	left := uint64(len(arcs))
	for _, a := range arcs {
		if left <= n && (d.cfg.TotalSize == 0 || total <= d.cfg.TotalSize) {
			break
		}
		if err := unix.Unlink(d.path(a.name)); err != nil && err != unix.ENOENT {
			d.warn("unlink %s: %v", d.path(a.name), err)
		} else {
			total -= uint64(a.size)
		}
		left--
	}
	return nil
}

// Pending reports whether the directory has work to do: lines to write
// or a rotation in progress.
func (d *Logdir) Pending() bool { return d.outOff < len(d.out) || d.state != rsWritable }

// PendingBytes is the amount of data waiting to be written.
func (d *Logdir) PendingBytes() int { return len(d.out) - d.outOff }

// Ready reports whether the directory wants to be serviced now (work
// pending, not waiting for a processor, retry cooldown over).
func (d *Logdir) Ready(now time.Time) bool {
	return d.Pending() && d.state != rsWaitProcessor && !now.Before(d.deadline)
}

// Deadline is when a directory with work pending wants to be serviced
// (in the past when it can go on at once); zero when it has nothing to
// do or waits for its processor.
func (d *Logdir) Deadline() time.Time {
	if !d.Pending() || d.state == rsWaitProcessor {
		return time.Time{}
	}
	if d.deadline.IsZero() {
		return time.Unix(1, 0)
	}
	return d.deadline
}

func (d *Logdir) fail(format string, a ...any) bool {
	d.warn(format, a...)
	d.deadline = d.now().Add(d.cfg.Retry)
	return false
}

// Flush writes pending lines, rotating as the size limits require. It
// returns false if it had to stop (error cooldown or processor running).
func (d *Logdir) Flush() bool {
	for {
		if d.state != rsWritable && !d.rotate() {
			return false
		}
		pend := d.out[d.outOff:]
		if len(pend) == 0 {
			d.out, d.outOff = d.out[:0], 0
			return true
		}
		s := uint64(d.cfg.FileSize)
		var chunk []byte
		avail := uint64(0)
		if d.size < s {
			avail = s - d.size
		}
		if uint64(len(pend)) <= avail {
			chunk = pend
		} else if i := bytes.LastIndexByte(pend[:avail], '\n'); i >= 0 {
			chunk = pend[:i+1]
		} else if d.size == 0 {
			// A single line longer than the file size: write it alone.
			i := bytes.IndexByte(pend, '\n')
			chunk = pend[:i+1]
		} else {
			// The next line does not fit: rotate first.
			d.state = rsStart
			continue
		}
		n, err := unix.Write(d.fd, chunk)
		if n > 0 {
			d.size += uint64(n)
			d.outOff += n
		}
		if err != nil {
			if err == unix.EINTR || err == unix.EAGAIN {
				continue
			}
			return d.fail("write to %s: %v", d.path("current"), err)
		}
		if n < len(chunk) {
			continue
		}
		if d.size+uint64(d.cfg.Tolerance) >= s {
			d.state = rsStart
			if d.outOff == len(d.out) {
				// Everything is written: let the logger consume its input
				// before the rotation (and its fsync) runs.
				d.out, d.outOff = d.out[:0], 0
				return true
			}
		}
	}
}

// full reports whether the lines already queued reach the rotation
// threshold, so that a batch can end there.
func (d *Logdir) full() bool {
	return d.size+uint64(len(d.out)-d.outOff)+uint64(d.cfg.Tolerance) >= uint64(d.cfg.FileSize)
}

// Rotate starts a rotation now (SIGALRM) if current is not empty.
func (d *Logdir) Rotate() {
	if d.state == rsWritable && d.size > 0 {
		d.state = rsStart
		d.rotate()
	}
}

// rotate advances the rotation state machine as far as it can. It
// returns true once the directory is writable again.
func (d *Logdir) rotate() bool {
	for {
		switch d.state {
		case rsWritable:
			return true
		case rsStart:
			if err := unix.Fsync(d.fd); err != nil {
				return d.fail("fsync %s: %v", d.path("current"), err)
			}
			d.state = rsRename
		case rsRename:
			if err := unix.Rename(d.path("current"), d.path("previous")); err != nil {
				return d.fail("rename %s to %s: %v", d.path("current"), d.path("previous"), err)
			}
			d.state = rsNewCurrent
		case rsNewCurrent:
			if err := d.openCurrent(0); err != nil {
				return d.fail("%v", err)
			}
			d.state = rsChmodPrevious
		case rsChmodPrevious:
			if err := unix.Chmod(d.path("previous"), d.mask|unix.S_IXUSR); err != nil {
				return d.fail("chmod %s: %v", d.path("previous"), err)
			}
			if d.cfg.Processor != "" {
				d.state = rsRunProcessor
			} else {
				d.state = rsFinishPrevious
			}
		case rsFinishPrevious:
			if err := d.finish("previous", 's'); err != nil {
				return d.fail("archive %s: %v", d.path("previous"), err)
			}
			d.state = rsWritable
		case rsRunProcessor:
			if err := d.startProcessor(); err != nil {
				return d.fail("run processor for %s: %v", d.cfg.Path, err)
			}
			d.state = rsWaitProcessor
		case rsWaitProcessor:
			return false
		case rsSyncProcessed:
			if err := syncChmod(d.path("processed"), d.mask|unix.S_IXUSR); err != nil {
				return d.fail("%v", err)
			}
			d.state = rsSyncNewState
		case rsSyncNewState:
			if err := syncChmod(d.path("newstate"), 0); err != nil {
				return d.fail("%v", err)
			}
			d.state = rsUnlinkPrevious
		case rsUnlinkPrevious:
			if err := unix.Unlink(d.path("previous")); err != nil && err != unix.ENOENT {
				return d.fail("unlink %s: %v", d.path("previous"), err)
			}
			d.state = rsRenameState
		case rsRenameState:
			if err := unix.Rename(d.path("newstate"), d.path("state")); err != nil {
				return d.fail("rename %s to %s: %v", d.path("newstate"), d.path("state"), err)
			}
			d.state = rsFinishProcessed
		case rsFinishProcessed:
			if err := d.finish("processed", 's'); err != nil {
				return d.fail("archive %s: %v", d.path("processed"), err)
			}
			d.state = rsWritable
		}
	}
}

// syncChmod fsyncs a file and, when mode is not 0, sets its mode.
func syncChmod(path string, mode uint32) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if mode != 0 {
		if err := unix.Fchmod(fd, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	return nil
}

// processorArgv is the command line for a processor script: execlineb
// -Pc when execlineb is on PATH (and the script used !), else /bin/sh -c.
func processorArgv(script string, shell bool) []string {
	if !shell {
		if p, err := exec.LookPath("execlineb"); err == nil {
			return []string{p, "-Pc", script}
		}
	}
	return []string{"/bin/sh", "-c", script}
}

// startProcessor runs the processor with previous on stdin, processed on
// stdout, state on fd 4 and newstate on fd 5, in the log directory.
func (d *Logdir) startProcessor() error {
	open := func(name string, flag int) (*os.File, error) {
		return os.OpenFile(d.path(name), flag|unix.O_CLOEXEC, 0o666)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, x := range []struct {
		name string
		flag int
	}{
		{"previous", os.O_RDONLY},
		{"processed", os.O_WRONLY | os.O_CREATE | os.O_TRUNC},
		{"state", os.O_RDONLY},
		{"newstate", os.O_WRONLY | os.O_CREATE | os.O_TRUNC},
	} {
		f, err := open(x.name, x.flag)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	argv := processorArgv(d.cfg.Processor, d.cfg.Shell)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = d.cfg.Path
	cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0], files[1], os.Stderr
	cmd.ExtraFiles = []*os.File{nil, files[2], files[3]}
	if err := cmd.Start(); err != nil {
		return err
	}
	d.proc = cmd
	go func() {
		err := cmd.Wait()
		if d.procDone != nil {
			d.procDone(d, err)
		}
	}()
	return nil
}

// ProcessorDone is called by the logger's loop (not from a goroutine)
// when the processor exits.
func (d *Logdir) ProcessorDone(err error) {
	d.proc = nil
	if d.state != rsWaitProcessor {
		return
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			d.fail("processor crashed in %s: %v", d.cfg.Path, err)
		} else {
			d.fail("processor failed in %s: %v", d.cfg.Path, err)
		}
		d.state = rsRunProcessor
		return
	}
	d.state = rsSyncProcessed
	d.rotate()
}

// Finalize marks current as cleanly closed: fsync, then set the user
// execute bit. It returns false (and sets a retry deadline) on failure.
func (d *Logdir) Finalize() bool {
	if d.fd < 0 {
		return true
	}
	if err := unix.Fsync(d.fd); err != nil {
		return d.fail("fsync %s: %v", d.path("current"), err)
	}
	if err := unix.Fchmod(d.fd, d.mask|unix.S_IXUSR); err != nil {
		return d.fail("chmod %s: %v", d.path("current"), err)
	}
	unix.Close(d.fd)
	d.fd = -1
	return true
}

// Close releases the directory's descriptors (and so its lock) without
// finalizing current.
func (d *Logdir) Close() {
	if d.fd >= 0 {
		unix.Close(d.fd)
		d.fd = -1
	}
	if d.lockFd >= 0 {
		unix.Close(d.lockFd)
		d.lockFd = -1
	}
}

// Path is the directory's path as given in the script.
func (d *Logdir) Path() string { return d.cfg.Path }

// cleanPath is used to detect a directory named twice in one script.
func cleanPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
