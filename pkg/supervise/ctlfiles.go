package supervise

import (
	"errors"
	"fmt"
	"os"

	"github.com/svinit/svinit/pkg/servicedir"
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
// dirfd; it returns the raw descriptor. The lock file must be a regular
// file: a symbolic link there is not followed, a FIFO not waited on.
func TakeLockAt(dirfd int, name string, mode os.FileMode) (int, error) {
	fd, err := openRegular(dirfd, name, unix.O_RDWR|unix.O_CREAT, uint32(mode.Perm()))
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

// openRegular opens name under dirfd with flags plus O_NOFOLLOW,
// O_NONBLOCK and O_CLOEXEC, and makes sure it is a regular file: a
// planted link or FIFO is an error saying so, never followed or waited on.
func openRegular(dirfd int, name string, flags int, perm uint32) (int, error) {
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
		return -1, fmt.Errorf("not a regular file (%s): remove it", servicedir.Kind(st.Mode))
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

// OpenControlFIFOAt is OpenControlFIFO for name relative to dirfd. A
// FIFO already there is kept with its mode (s6-svperms may have opened it
// to a group); anything else (a file, a symbolic link, an empty
// directory) is replaced, never followed.
func OpenControlFIFOAt(dirfd int, name string) (int, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT != unix.S_IFIFO {
		if err := unix.Unlinkat(dirfd, name, 0); err != nil {
			unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
		}
	}
	created := true
	if err := unix.Mkfifoat(dirfd, name, 0o600); err == unix.EEXIST {
		created = false
	} else if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDWR|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		unix.Close(fd)
		if err == nil {
			err = fmt.Errorf("not a FIFO (%s): remove it", servicedir.Kind(st.Mode))
		}
		return -1, err
	}
	if created {
		unix.Fchmod(fd, 0o600) // exactly 0600, whatever the umask
	}
	return fd, nil
}

// makeDir creates name under dirfd (mode 0700) as s6-supervise makes
// supervise/ and event/: a directory already there is used as it is; a
// symbolic link whose target does not exist gets its target created (the
// layout where supervise/ lives on a tmpfs); a symbolic link to anything
// that exists is refused, as s6-supervise refuses it, so that no planted
// link makes the supervisor work in, chown or chmod a directory it did
// not create. It returns the directory, open (O_PATH is not enough for
// fchown: O_RDONLY), and whether it was created.
func makeDir(dirfd int, name string) (fd int, created bool, err error) {
	const open = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if err := unix.Mkdirat(dirfd, name, 0o700); err == nil {
		fd, err := unix.Openat(dirfd, name, open, 0)
		return fd, true, err
	} else if err != unix.EEXIST {
		return -1, false, fmt.Errorf("cannot create %s/: %w", name, err)
	}
	buf := make([]byte, 4096)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err == unix.EINVAL { // not a symbolic link
		fd, err := unix.Openat(dirfd, name, open, 0)
		if err == unix.ENOTDIR {
			return -1, false, fmt.Errorf("%s exists and is not a directory: remove it", name)
		}
		return fd, false, err
	}
	if err != nil {
		return -1, false, fmt.Errorf("readlink %s: %w", name, err)
	}
	if n == len(buf) {
		return -1, false, fmt.Errorf("%s: symbolic link target too long", name)
	}
	target := string(buf[:n])
	if err := unix.Mkdirat(dirfd, target, 0o700); err == unix.EEXIST {
		return -1, false, fmt.Errorf("%s is a symbolic link to %s, which exists: refused, as s6-supervise refuses it "+
			"(a link is followed only to create its target, e.g. on a tmpfs); remove the link or its target", name, target)
	} else if err != nil {
		return -1, false, fmt.Errorf("%s is a symbolic link to %s, which cannot be created: %w", name, target, err)
	}
	fd, err = unix.Openat(dirfd, target, open, 0)
	return fd, true, err
}
