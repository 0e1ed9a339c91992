package rootfs

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

// SwitchStats says what a switch did.
type SwitchStats struct {
	Moved    []string      // mounts moved into the new root
	Detached []string      // mounts the new root has no directory for (detached)
	Files    int           // initramfs files and directories deleted
	Freed    int64         // bytes of file data deleted
	Delete   time.Duration // of the whole switch, the time deleting took
}

// CheckInit reports whether init (an absolute path, as the new root
// sees it) is an executable file in newRoot. Symbolic links are
// followed inside newRoot (/sbin/init -> /lib/systemd/systemd is
// looked up there, not in the initramfs).
func CheckInit(newRoot, init string) error {
	dir, err := unix.Open(newRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", newRoot, err)
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, init, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return fmt.Errorf("%s in the new root %s: %w", init, newRoot, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("%s in the new root %s: %w", init, newRoot, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return fmt.Errorf("%s in the new root %s: not an executable file", init, newRoot)
	}
	return nil
}

// Switch makes newRoot, a mount point, the root directory as
// switch_root does: it checks that init is there, moves the kernel
// mounts into newRoot, moves newRoot onto "/", chroots into it and
// deletes the initramfs's files to free their memory, never crossing
// into another file system. "/" must be the initramfs (ramfs or tmpfs).
// The caller then execs init (ExecInit). After an error past the
// checks the process may be left in the new root without the old one
// cleaned; the error says how far it got.
func Switch(newRoot, init string) (SwitchStats, error) {
	var stats SwitchStats
	var sfs unix.Statfs_t
	if err := unix.Statfs("/", &sfs); err != nil {
		return stats, fmt.Errorf("statfs /: %w", err)
	}
	if t := int64(sfs.Type); t != unix.RAMFS_MAGIC && t != unix.TMPFS_MAGIC {
		return stats, fmt.Errorf("/ is not an initramfs (ramfs or tmpfs, type %#x): not deleting it", t)
	}
	var rootSt, newSt unix.Stat_t
	if err := unix.Stat("/", &rootSt); err != nil {
		return stats, fmt.Errorf("stat /: %w", err)
	}
	if err := unix.Stat(newRoot, &newSt); err != nil {
		return stats, fmt.Errorf("new root: %w", err)
	}
	if newSt.Dev == rootSt.Dev {
		return stats, fmt.Errorf("new root %s is not a mounted file system", newRoot)
	}
	if err := CheckInit(newRoot, init); err != nil {
		return stats, err
	}

	for _, m := range bootfs.SwitchMounts {
		var st unix.Stat_t
		if err := unix.Stat(m, &st); err != nil || st.Dev == rootSt.Dev {
			continue // not mounted
		}
		dst := filepath.Join(newRoot, m)
		if fi, err := os.Stat(dst); err != nil || !fi.IsDir() {
			// A new root without the directory (or read-only): the
			// mount cannot follow; detach it as switch_root does.
			unix.Unmount(m, unix.MNT_DETACH)
			stats.Detached = append(stats.Detached, m)
			continue
		}
		if err := unix.Mount(m, dst, "", unix.MS_MOVE, ""); err != nil {
			return stats, fmt.Errorf("move %s to %s: %w", m, dst, err)
		}
		stats.Moved = append(stats.Moved, m)
	}

	if err := unix.Chdir(newRoot); err != nil {
		return stats, fmt.Errorf("chdir %s: %w", newRoot, err)
	}
	old, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return stats, fmt.Errorf("open the old root: %w", err)
	}
	defer unix.Close(old)
	if err := unix.Mount(newRoot, "/", "", unix.MS_MOVE, ""); err != nil {
		return stats, fmt.Errorf("move %s onto /: %w", newRoot, err)
	}
	if err := unix.Chroot("."); err != nil {
		return stats, fmt.Errorf("chroot into the new root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return stats, fmt.Errorf("chdir / in the new root: %w", err)
	}
	start := time.Now()
	removeAll(old, uint64(rootSt.Dev), &stats)
	stats.Delete = time.Since(start)
	return stats, nil
}

// removeAll deletes what directory dir holds, staying on device dev.
// Failures (a busy mount point) are skipped: freeing memory is best
// effort, as with switch_root.
func removeAll(dir int, dev uint64, stats *SwitchStats) {
	// The caller owns dir: read it through a duplicate.
	dup, err := unix.Dup(dir)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(dup), "old root")
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(dir, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || uint64(st.Dev) != dev {
			continue
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			sub, err := unix.Openat(dir, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			var subSt unix.Stat_t
			if unix.Fstat(sub, &subSt) == nil && uint64(subSt.Dev) == dev {
				removeAll(sub, dev, stats)
				if unix.Unlinkat(dir, n, unix.AT_REMOVEDIR) == nil {
					stats.Files++
				}
			}
			unix.Close(sub)
			continue
		}
		if unix.Unlinkat(dir, n, 0) == nil {
			stats.Files++
			if st.Mode&unix.S_IFMT == unix.S_IFREG && st.Nlink <= 1 {
				stats.Freed += st.Size
			}
		}
	}
}

// ExecInit execs init as the new root's process 1 with argv [init] and
// env, every signal back to its default disposition: an ignored signal
// (process 1 ignores many) would stay ignored across the exec, a caught
// one goes back to the default, so each gets Go's handler first
// (signal.Notify; signal.Reset would leave ignored ones ignored). It
// returns only on failure.
func ExecInit(init string, env []string) error {
	c := make(chan os.Signal, 1)
	for s := unix.Signal(1); s < 32; s++ {
		if s != unix.SIGKILL && s != unix.SIGSTOP {
			signal.Notify(c, s)
		}
	}
	err := unix.Exec(init, []string{init}, env)
	if errors.Is(err, unix.ENOEXEC) {
		return fmt.Errorf("exec %s: not a program the kernel can run (a script needs #!): %w", init, err)
	}
	return fmt.Errorf("exec %s: %w", init, err)
}
