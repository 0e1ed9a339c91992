package supervise

import (
	"fmt"

	"golang.org/x/sys/unix"
)

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
