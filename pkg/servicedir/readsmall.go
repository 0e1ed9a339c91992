package servicedir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Reading the small files of a service directory without blocking,
// following a planted link or a FIFO, or reading a huge file whole.

// ReadSmall reads at most len(buf) bytes from the start of the file name
// under dirfd, whose d_type (from a directory listing; DT_UNKNOWN if not
// known) is dt. It never blocks on a FIFO and reads only a regular file
// (following symbolic links): anything else is an error saying what was
// found and what to do. A missing file (or a dangling link) is
// unix.ENOENT itself.
func ReadSmall(dirfd int, name string, dt uint8, buf []byte) (int, error) {
	fd := -1
	var err error
	if dt == unix.DT_REG {
		// The common case: one open, no stat. O_NOFOLLOW: if it was
		// replaced by a link since the listing, look again below.
		fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT {
			return 0, err
		}
		if err != nil && err != unix.ELOOP {
			return 0, err
		}
	}
	if fd < 0 {
		if dt != unix.DT_LNK && dt != unix.DT_UNKNOWN && dt != unix.DT_REG {
			return 0, notRegular(dtMode(dt))
		}
		// Look before opening: opening a device can have effects of its
		// own, and a FIFO or directory is refused without an open.
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, 0); err != nil {
			return 0, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return 0, notRegular(st.Mode)
		}
		if fd, err = unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err != nil {
			return 0, err
		}
		// It may have been replaced between the stat and the open.
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			if err != nil {
				return 0, err
			}
			return 0, notRegular(st.Mode)
		}
	}
	defer unix.Close(fd)
	total := 0
	for total < len(buf) {
		n, err := unix.Read(fd, buf[total:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n <= 0 {
			break
		}
		total += n
	}
	return total, nil
}

type notRegularError struct{ mode uint32 }

func (e notRegularError) Error() string {
	return "not a regular file (" + Kind(e.mode) + "): replace it with a regular file or remove it"
}

func notRegular(mode uint32) error { return notRegularError{mode & unix.S_IFMT} }

// IsNotRegular reports whether err is ReadSmall's "not a regular file".
func IsNotRegular(err error) bool {
	var e notRegularError
	return errors.As(err, &e)
}

func dtMode(dt uint8) uint32 {
	switch dt {
	case unix.DT_DIR:
		return unix.S_IFDIR
	case unix.DT_FIFO:
		return unix.S_IFIFO
	case unix.DT_CHR:
		return unix.S_IFCHR
	case unix.DT_BLK:
		return unix.S_IFBLK
	case unix.DT_SOCK:
		return unix.S_IFSOCK
	}
	return 0
}

// Kind names the file type in mode (a stat(2) st_mode) for error
// messages: "a FIFO", "a directory", "a regular file", ...
func Kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFREG:
		return "a regular file"
	}
	return "unknown type"
}

// list records in found which of Files exist in the directory open as
// dirfd, with their d_type (plus one). Unless own, it reads through a
// descriptor of its own: reading a directory moves its offset.
func list(dirfd int, own bool, found *[nFiles]uint8) error {
	fd := dirfd
	if !own {
		var err error
		if fd, err = unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		defer unix.Close(fd)
	}
	var buf [4096]byte
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino (8), off (8), reclen (2), type (1),
		// name (NUL-terminated).
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				return errors.New("malformed directory entry")
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			for i, f := range Files {
				if string(name) == f {
					found[i] = b[18] + 1
					break
				}
			}
			b = b[reclen:]
		}
	}
}

// ParseUint parses s as s6's uint0_scan does: one or more decimal digits
// and nothing else (leading zeros allowed), at most 2^32-1.
func ParseUint(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		if n = n*10 + uint64(s[i]-'0'); n > 1<<32-1 {
			return 0, false
		}
	}
	return n, true
}

// CheckExecutable reports why path cannot be executed, if it cannot.
func CheckExecutable(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if err == unix.ENOENT {
			return fmt.Errorf("%s: missing: a service needs an executable run file", path)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s: not a regular file", path)
	}
	if err := unix.Access(path, unix.X_OK); err != nil {
		return fmt.Errorf("%s: not executable (chmod +x %s)", path, path)
	}
	return nil
}
