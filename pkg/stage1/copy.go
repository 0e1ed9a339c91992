package stage1

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

// CopyScandir creates the scan directory /run/service from the image's
// pre-seeded /etc/svinit/scandir: directories, regular files, symbolic
// links and FIFOs are copied with their permission bits (setuid, setgid
// and sticky included); anything else is skipped with a message. A
// missing seed directory leaves an empty scan directory.
func (s *Stage1) CopyScandir() error {
	dst := s.P(bootfs.Scandir)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("create the scan directory %s: %w", bootfs.Scandir, err)
	}
	src := s.P(bootfs.SeedScandir)
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		s.Logf("%s: missing; the scan directory %s starts empty", bootfs.SeedScandir, bootfs.Scandir)
		return nil
	}
	return CopyTree(src, dst, func(rel string, err error) {
		s.Logf("copy %s/%s to %s: %v", bootfs.SeedScandir, rel, bootfs.Scandir, err)
	})
}

// CopyTree copies the tree under src into dst (which exists), preserving
// modes and symbolic links. skip is told about entries it cannot copy;
// the first hard error (a directory it cannot create or read) is returned.
func CopyTree(src, dst string, skip func(rel string, err error)) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			skip(rel, err)
			return nil
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			if err := os.Mkdir(target, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("create %s: %w", target, err)
			}
			// Permissions are set now: the walk visits children next, and
			// they only need us (root) to be able to write here.
			if err := chmod(target, mode); err != nil {
				skip(rel, err)
			}
		case mode&os.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err == nil {
				os.Remove(target)
				err = os.Symlink(link, target)
			}
			if err != nil {
				skip(rel, err)
			}
		case mode.IsRegular():
			if err := copyFile(path, target, mode); err != nil {
				skip(rel, err)
			}
		case mode&os.ModeNamedPipe != 0:
			os.Remove(target)
			err := unix.Mkfifo(target, 0o600)
			if err == nil {
				err = chmod(target, mode)
			}
			if err != nil {
				skip(rel, err)
			}
		default:
			skip(rel, fmt.Errorf("not a directory, file, symbolic link or FIFO (%v)", mode.Type()))
		}
		return nil
	})
}

// chmod applies the permission bits of mode, including setuid, setgid
// and sticky (which os.FileMode keeps apart from Perm).
func chmod(path string, mode fs.FileMode) error {
	m := uint32(mode.Perm())
	if mode&os.ModeSetuid != 0 {
		m |= unix.S_ISUID
	}
	if mode&os.ModeSetgid != 0 {
		m |= unix.S_ISGID
	}
	if mode&os.ModeSticky != 0 {
		m |= unix.S_ISVTX
	}
	return unix.Chmod(path, m)
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	os.Remove(dst)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return chmod(dst, mode)
}
