package svlog

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
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
