package supervise

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrHeld means a lock file is locked by someone else.
var ErrHeld = errors.New("lock held by another process")

// TakeLock opens (creating with mode) and write-locks path with an
// open-file-description lock: s6's clients see it as a POSIX lock, but
// closing another descriptor of the file in this process (where every
// service of a scanner lives) does not drop it, and a second holder in
// this same process conflicts with it. A lock held elsewhere gives
// ErrHeld. The lock lasts until the returned file is closed.
func TakeLock(path string, mode os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, mode)
	if err != nil {
		return nil, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		f.Close()
		if err == unix.EAGAIN || err == unix.EACCES {
			return nil, ErrHeld
		}
		return nil, err
	}
	return f, nil
}

// OpenControlFIFO makes path a FIFO of mode 0600 (replacing anything
// else found there) and opens it read-write and non-blocking, so its
// reader never sees end of file and writers never get ENXIO while it is
// open. It returns the raw descriptor.
func OpenControlFIFO(path string) (int, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeNamedPipe == 0 {
		os.Remove(path)
	}
	if err := unix.Mkfifo(path, 0o600); err != nil && err != unix.EEXIST {
		return -1, err
	}
	unix.Chmod(path, 0o600)
	return unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
}
