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
	Moved    []string // mounts moved into the new root
	Detached []string // mounts the new root has no directory for (detached)
	Files    int      // initramfs files and directories deleted
	Freed    int64    // bytes of file data deleted
	// The switch's steps: the checks (file system types, init), moving
	// the mounts and the root (with the chroot), deleting the initramfs.
	Check, Move, Delete time.Duration
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
	start := time.Now()
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
	moving := time.Now()
	stats.Check = moving.Sub(start)

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
	deleting := time.Now()
	stats.Move = deleting.Sub(moving)
	rs := RemoveContents(old, uint64(rootSt.Dev), 0)
	stats.Files, stats.Freed = rs.Files, rs.Freed
	stats.Delete = time.Since(deleting)
	return stats, nil
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
