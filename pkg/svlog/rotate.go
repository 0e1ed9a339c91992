package svlog

import (
	"fmt"

	"golang.org/x/sys/unix"
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
