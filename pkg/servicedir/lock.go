package servicedir

// supervise/lock: a supervisor holds a write lock on it while it runs;
// s6-svok (Supervised) tells a supervised service by that lock. The lock
// is an open-file-description lock (F_OFD_SETLK): s6's clients see it as
// they see a classic fcntl lock, but closing another descriptor of the
// file in the same process (where every service of a scanner lives)
// does not drop it, and a second holder in this same process conflicts
// with it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrLockHeld means a lock file is locked by someone else.
var ErrLockHeld = errors.New("lock held by another process")

// LockPath returns DIR/supervise/lock.
func LockPath(dir string) string { return filepath.Join(dir, SuperviseDir, "lock") }

// TakeLock opens (creating with mode) and write-locks path with an
// open-file-description lock. A lock held elsewhere gives ErrLockHeld.
// The lock lasts until the returned file is closed.
func TakeLock(path string, mode os.FileMode) (*os.File, error) {
	fd, err := TakeLockAt(unix.AT_FDCWD, path, mode)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// TakeLockAt is TakeLock for name relative to the directory open as
// dirfd; it returns the raw descriptor. The lock file must be a regular
// file: a symbolic link there is not followed, a FIFO not waited on.
func TakeLockAt(dirfd int, name string, mode os.FileMode) (int, error) {
	fd, err := OpenRegular(dirfd, name, unix.O_RDWR|unix.O_CREAT, uint32(mode.Perm()))
	if err != nil {
		return -1, err
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		unix.Close(fd)
		if err == unix.EAGAIN || err == unix.EACCES {
			return -1, ErrLockHeld
		}
		return -1, err
	}
	return fd, nil
}

// Supervised reports whether a supervisor holds the lock on
// DIR/supervise/lock, which is how s6-svok tells. A missing lock file
// (or service directory) means "not supervised", not an error.
//
// The test asks the kernel about conflicting locks with F_OFD_GETLK on
// a fresh descriptor: unlike the classic F_GETLK, this also sees a lock
// held by the calling process itself, so it gives the right answer
// inside a process that supervises services. The descriptor is only
// read from and never locked; but closing it drops every classic
// (F_SETLK) lock the calling process holds on that file. A supervisor
// that calls Supervised on its own services must therefore hold its
// lock as an open-file-description lock (TakeLock), which s6-svok sees
// just the same.
func Supervised(dir string) (bool, error) {
	p := LockPath(dir)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		if err == unix.ENOENT {
			return false, nil
		}
		return false, fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, fmt.Errorf("%s: not a regular file", p)
	}
	locked, err := isLocked(fd)
	if err != nil {
		return false, fmt.Errorf("test the lock on %s: %w", p, err)
	}
	return locked, nil
}

func isLocked(fd int) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk)
	if errors.Is(err, unix.EINVAL) {
		// Kernel older than 3.15: the classic query, blind to the
		// locks of this very process.
		lk = unix.Flock_t{Type: unix.F_WRLCK}
		err = unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk)
	}
	if err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// OpenRegular opens name under dirfd with flags plus O_NOFOLLOW,
// O_NONBLOCK and O_CLOEXEC, and makes sure it is a regular file: a
// planted link or FIFO is an error saying so, never followed or waited on.
func OpenRegular(dirfd int, name string, flags int, perm uint32) (int, error) {
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if err == unix.ELOOP {
		return -1, errors.New("is a symbolic link (not followed): remove it")
	}
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, fmt.Errorf("not a regular file (%s): remove it", Kind(st.Mode))
	}
	return fd, nil
}
