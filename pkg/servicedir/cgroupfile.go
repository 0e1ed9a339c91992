package servicedir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// CgroupFile is svinit's supervise/svinit-cgroup: the directory of the
// service's cgroup (package cgroup), on one line, written when the
// supervisor makes it and removed when supervision ends. s6 has no such
// file.
const CgroupFile = "supervise/svinit-cgroup"

// WriteCgroupAt writes dir into supervise/svinit-cgroup of the service
// directory open as dirfd, atomically.
func WriteCgroupAt(dirfd int, dir string) error {
	return ReplaceAt(dirfd, CgroupFile, []byte(dir+"\n"))
}

// ReadCgroup returns the cgroup directory named in supervise/svinit-cgroup
// of service directory dir, reading it without blocking and only if it
// is a regular file. A missing file satisfies errors.Is(err,
// fs.ErrNotExist): the supervisor is s6's, or the service has no cgroup.
func ReadCgroup(dir string) (string, error) {
	p := filepath.Join(dir, CgroupFile)
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", &os.PathError{Op: "stat", Path: p, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("%s: %w: not a regular file", p, ErrCorrupt)
	}
	b := make([]byte, 4097)
	n, err := f.Read(b)
	if err != nil && err != io.EOF {
		return "", &os.PathError{Op: "read", Path: p, Err: err}
	}
	l, _, ok := strings.Cut(string(b[:n]), "\n")
	if !ok || !filepath.IsAbs(l) {
		return "", fmt.Errorf("%s: %w: not an absolute path on one line", p, ErrCorrupt)
	}
	return l, nil
}

// RemoveCgroupFileAt removes supervise/svinit-cgroup (missing is fine).
func RemoveCgroupFileAt(dirfd int) error {
	if err := unix.Unlinkat(dirfd, CgroupFile, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: CgroupFile, Err: err}
	}
	return nil
}
