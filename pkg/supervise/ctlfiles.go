package supervise

import (
	"errors"
	"os"

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
	fd, err := TakeLockAt(unix.AT_FDCWD, path, mode)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// TakeLockAt is TakeLock for name relative to the directory open as
// dirfd; it returns the raw descriptor.
func TakeLockAt(dirfd int, name string, mode os.FileMode) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		return -1, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		unix.Close(fd)
		if err == unix.EAGAIN || err == unix.EACCES {
			return -1, ErrHeld
		}
		return -1, err
	}
	return fd, nil
}

// OpenControlFIFO makes path a FIFO of mode 0600 (replacing anything
// else found there) and opens it read-write and non-blocking, so its
// reader never sees end of file and writers never get ENXIO while it is
// open. It returns the raw descriptor.
func OpenControlFIFO(path string) (int, error) {
	return OpenControlFIFOAt(unix.AT_FDCWD, path)
}

// OpenControlFIFOAt is OpenControlFIFO for name relative to dirfd.
func OpenControlFIFOAt(dirfd int, name string) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFIFO {
		if err := unix.Unlinkat(dirfd, name, 0); err != nil {
			unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		}
	}
	if err := unix.Mkfifoat(dirfd, name, 0o600); err != nil && err != unix.EEXIST {
		return -1, err
	}
	unix.Fchmodat(dirfd, name, 0o600, 0)
	return unix.Openat(dirfd, name, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
}
