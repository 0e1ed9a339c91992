package execline

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/fifo"
)

// Sys is the process state the chain-loaders act on. OS (the real
// process) is the implementation commands use; tests may substitute a
// recording fake. Every method mirrors one system call.
//
// The real implementation uses raw system calls only and never an
// *os.File: opening files through package os would start the Go
// runtime's poller, whose descriptors a script could later overwrite
// with redirfd or fdmove.
type Sys interface {
	Open(path string, flags int, mode uint32) (int, error)
	// OpenFIFOWriter is open(path, O_WRONLY|O_NONBLOCK|flags) that also
	// works on a FIFO without a reader (see pkg/fifo).
	OpenFIFOWriter(path string, flags int, blocking bool) (int, error)
	Dup2(oldfd, newfd int) error // newfd without close-on-exec
	Dup(fd int) (int, error)     // lowest free fd >= 3, close-on-exec
	Close(fd int) error
	SetNonblock(fd int, nonblocking bool) error
	Chdir(dir string) error
	Umask(mask int) int
	SetIDs(uid, gid int, groups []int) error
	ReadFile(path string, limit int) ([]byte, error)
	ReadDirNames(dir string) ([]string, error)
	// Exec replaces the process image; it returns only on error.
	Exec(path string, argv, env []string) error
	// Spawn starts path as a child sharing the process's open fds
	// (those without close-on-exec), cwd, umask and credentials.
	Spawn(path string, argv, env []string) (pid int, err error)
	Wait(pid int) (syscall.WaitStatus, error)
	Access(path string) error // X_OK on a non-directory
}

// OS is the real process.
type OS struct{}

var _ Sys = OS{}

func retry[T any](f func() (T, error)) (T, error) {
	for {
		v, err := f()
		if err != unix.EINTR {
			return v, err
		}
	}
}

func (OS) Open(path string, flags int, mode uint32) (int, error) {
	return retry(func() (int, error) { return unix.Open(path, flags, mode) })
}

func (OS) OpenFIFOWriter(path string, flags int, blocking bool) (int, error) {
	fd, err := fifo.OpenWriter(path, flags, blocking)
	var errno syscall.Errno
	if err != nil && errors.As(err, &errno) {
		return -1, errno
	}
	return fd, err
}

// runtimeFD reports whether fd looks like one of the Go runtime's own
// descriptors that must not be replaced or closed: its poller
// (eventpoll) or the poller's wakeup eventfd, both close-on-exec. The
// runtime only creates them when something uses the poller, which this
// package avoids, but a non-blocking stdin/stdout/stderr at startup
// makes package os start it. Without /proc nothing is detected.
func runtimeFD(fd int) bool {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		return false
	}
	buf := make([]byte, 64)
	n, err := unix.Readlink("/proc/self/fd/"+itoa(fd), buf)
	if err != nil {
		return false
	}
	l := string(buf[:n])
	return l == "anon_inode:[eventpoll]" || l == "anon_inode:[eventfd]"
}

func (OS) Dup2(oldfd, newfd int) error {
	if runtimeFD(newfd) {
		return ErrRuntimeFD
	}
	if oldfd == newfd {
		_, err := unix.FcntlInt(uintptr(oldfd), unix.F_SETFD, 0)
		return err
	}
	_, err := retry(func() (int, error) { return 0, unix.Dup3(oldfd, newfd, 0) })
	return err
}

func (OS) Dup(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
}

func (OS) Close(fd int) error {
	if runtimeFD(fd) {
		return ErrRuntimeFD
	}
	return unix.Close(fd)
}

// ErrRuntimeFD is returned when a script asks to replace or close a
// descriptor the Go runtime itself uses.
var ErrRuntimeFD = errors.New("descriptor in use by the Go runtime (its poller); pick another fd number")

func (OS) SetNonblock(fd int, nb bool) error { return unix.SetNonblock(fd, nb) }

func (OS) Chdir(dir string) error { return unix.Chdir(dir) }

func (OS) Umask(mask int) int { return unix.Umask(mask) }

func (OS) SetIDs(uid, gid int, groups []int) error {
	// Since Go 1.16 these apply to every thread of the process.
	if err := syscall.Setgroups(groups); err != nil {
		return err
	}
	if err := syscall.Setgid(gid); err != nil {
		return err
	}
	return syscall.Setuid(uid)
}

func (OS) ReadFile(path string, limit int) ([]byte, error) {
	fd, err := retry(func() (int, error) { return unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var b []byte
	buf := make([]byte, 4096)
	for limit <= 0 || len(b) < limit {
		n, err := retry(func() (int, error) { return unix.Read(fd, buf) })
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		b = append(b, buf[:n]...)
	}
	if limit > 0 && len(b) > limit {
		b = b[:limit]
	}
	return b, nil
}

func (OS) ReadDirNames(dir string) ([]string, error) {
	fd, err := retry(func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := retry(func() (int, error) { return unix.ReadDirent(fd, buf) })
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

func (OS) Exec(path string, argv, env []string) error {
	return syscall.Exec(path, argv, env)
}

func (OS) Spawn(path string, argv, env []string) (int, error) {
	// The child inherits every descriptor that is not close-on-exec,
	// exactly as an execve would. ForkExec closes 0, 1 and 2 unless they
	// are listed, so list them, as "closed" (-1) when they are.
	files := make([]uintptr, 3)
	for i := range files {
		files[i] = uintptr(i)
		if _, err := unix.FcntlInt(uintptr(i), unix.F_GETFD, 0); err != nil {
			files[i] = ^uintptr(0)
		}
	}
	return syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: env, Files: files})
}

func (OS) Wait(pid int) (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	_, err := retry(func() (int, error) { return syscall.Wait4(pid, &ws, 0, nil) })
	return ws, err
}

func (OS) Access(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EACCES
	}
	return unix.Access(path, unix.X_OK)
}
