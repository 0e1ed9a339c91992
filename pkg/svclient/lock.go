package svclient

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// LockPath returns DIR/supervise/lock.
func LockPath(dir string) string { return filepath.Join(dir, SuperviseDir, "lock") }

// Supervised reports whether a supervisor holds the lock on
// DIR/supervise/lock, which is how s6-svok tells. A missing lock file
// (or service directory) means "not supervised", not an error.
//
// The test asks the kernel about conflicting locks with F_OFD_GETLK on
// a fresh descriptor: unlike the classic F_GETLK, this also sees a
// POSIX lock held by the calling process itself, so it gives the right
// answer inside a process that supervises services. The descriptor is
// only read from and never locked; but POSIX semantics make its close
// drop every classic (F_SETLK) lock the calling process holds on that
// file. A supervisor that calls Supervised on its own services must
// therefore hold its lock as an open-file-description lock
// (F_OFD_SETLK), which s6-svok sees just the same.
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
		// Kernel older than 3.15: classic POSIX query, blind to the
		// locks of this very process.
		lk = unix.Flock_t{Type: unix.F_WRLCK}
		err = unix.FcntlFlock(uintptr(fd), unix.F_GETLK, &lk)
	}
	if err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}
