package svscan

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/servicedir"
)

// switchRoot carries out 'R': the root becomes the directory named in
// .s6-svscan/svinit-root. A failure leaves everything as it was.
func (s *Scanner) switchRoot() {
	newroot, ok, err := servicedir.ReadScanRequest(s.opts.Dir, servicedir.ScanRootRequest)
	if err == nil && !ok {
		err = fmt.Errorf("no %s/.s6-svscan/%s (svscanctl -R NEWROOT writes it)", s.opts.Dir, servicedir.ScanRootRequest)
	}
	if err == nil {
		err = s.chroot(newroot)
	}
	if err != nil {
		s.logf("cannot switch the root (still on the old one): %v", err)
		return
	}
	s.logf("root switched to %s", newroot)
}

// chroot makes newroot the scanner's root, as switch_root does but from
// inside: chdir(newroot), mount(".", "/", MS_MOVE) when newroot is a
// mount point, chroot("."), then chdir to the scan directory through a
// descriptor opened before. Services are untouched: their processes,
// pipes and the descriptors the scanner holds for them stay as they are.
//
// Preconditions, checked first: newroot is an absolute path to a
// directory other than the current root; an absolute scan directory is
// the same directory under newroot (its file system moved there, e.g.
// mount --move /run NEWROOT/run); newroot/proc is a proc file system
// (the services' ./run start in /proc/self/fd/N). Moving /dev, /proc,
// /sys and /run is the caller's work.
func (s *Scanner) chroot(newroot string) error {
	if !filepath.IsAbs(newroot) {
		return fmt.Errorf("%s: not an absolute path", newroot)
	}
	var nst, rst, sst, ist unix.Stat_t
	if err := unix.Stat(newroot, &nst); err != nil {
		return fmt.Errorf("new root %s: %w", newroot, err)
	}
	if nst.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("new root %s: not a directory", newroot)
	}
	if err := unix.Stat("/", &rst); err == nil && rst.Dev == nst.Dev && rst.Ino == nst.Ino {
		return fmt.Errorf("new root %s: it is the root already", newroot)
	}
	dfd, err := unix.Open(s.opts.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("scan dir %s: %w", s.opts.Dir, err)
	}
	defer unix.Close(dfd)
	if err := unix.Fstat(dfd, &sst); err != nil {
		return fmt.Errorf("scan dir %s: %w", s.opts.Dir, err)
	}
	if filepath.IsAbs(s.opts.Dir) {
		under := filepath.Join(newroot, s.opts.Dir)
		if err := unix.Stat(under, &ist); err != nil || ist.Dev != sst.Dev || ist.Ino != sst.Ino {
			return fmt.Errorf("%s is not the scan directory %s: move its file system into the new root first (mount --move)", under, s.opts.Dir)
		}
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(filepath.Join(newroot, "proc"), &fs); err != nil || fs.Type != unix.PROC_SUPER_MAGIC {
		return fmt.Errorf("%s/proc is not a proc file system: move /proc into the new root first (mount --move /proc %s/proc)", newroot, newroot)
	}
	move, err := mountRoot(newroot)
	if err != nil {
		return fmt.Errorf("new root %s: %w", newroot, err)
	}
	back, err := unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("current directory: %w", err)
	}
	defer unix.Close(back)
	if err := unix.Chdir(newroot); err != nil {
		return fmt.Errorf("chdir %s: %w", newroot, err)
	}
	if move {
		if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
			unix.Fchdir(back)
			return fmt.Errorf("move the mount %s to / (a shared / refuses it: mount --make-private /): %w", newroot, err)
		}
	}
	if err := unix.Chroot("."); err != nil {
		if move {
			// Put the mount back where it was: nothing changed then.
			if merr := unix.Mount(".", newroot, "", unix.MS_MOVE, ""); merr != nil {
				unix.Fchdir(back)
				return fmt.Errorf("chroot %s: %w (and moving it back from /: %v)", newroot, err, merr)
			}
		}
		unix.Fchdir(back)
		return fmt.Errorf("chroot %s: %w", newroot, err)
	}
	if err := unix.Fchdir(dfd); err != nil {
		// Only reachable if the scan directory vanished meanwhile.
		return fmt.Errorf("root switched, but chdir to the scan directory: %w", err)
	}
	if !filepath.IsAbs(s.opts.Dir) {
		s.opts.Dir = "."
	}
	return nil
}

// mountRoot reports whether dir is the root of a mount.
func mountRoot(dir string) (bool, error) {
	var stx unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, dir, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx)
	if err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	// Older kernels: a mount point's device differs from its parent's.
	var st, pst unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Stat(filepath.Join(dir, ".."), &pst); err != nil {
		return false, err
	}
	return st.Dev != pst.Dev, nil
}
