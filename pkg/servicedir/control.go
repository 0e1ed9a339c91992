package servicedir

// The control FIFOs: supervise/control of a service, .s6-svscan/control
// of a scan directory. The supervisor holds its end open read-write
// (OpenControlFIFO); a client opens it write-only without blocking
// (OpenControl), so that "no supervisor" (ENXIO) is told apart.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Subdirectories holding a control FIFO, as s6 names them.
const (
	SuperviseDir = "supervise"  // per service: supervise/control
	ScanDir      = ".s6-svscan" // per scan directory: .s6-svscan/control
)

// SignalLetters are the control letters of supervise/control that send
// ./run a signal, as s6-svc has them; GroupSignalLetters send it to
// ./run's process group. The other letters (u, d, o, O, x, X, r, w,
// Q...) are the supervisor's commands.
var (
	SignalLetters = map[byte]syscall.Signal{
		'a': syscall.SIGALRM, 'b': syscall.SIGABRT, 'q': syscall.SIGQUIT, 'h': syscall.SIGHUP,
		'k': syscall.SIGKILL, 't': syscall.SIGTERM, 'i': syscall.SIGINT, '1': syscall.SIGUSR1,
		'2': syscall.SIGUSR2, 'p': syscall.SIGSTOP, 'c': syscall.SIGCONT, 'y': syscall.SIGWINCH,
	}
	GroupSignalLetters = map[byte]syscall.Signal{'P': syscall.SIGSTOP, 'C': syscall.SIGCONT, 'K': syscall.SIGKILL}
)

// Kinds of control failure, to be mapped to exit codes by the commands.
var (
	// ErrNotListening: nothing reads the control FIFO (open gave ENXIO)
	// or the directory holding it does not exist yet: no supervisor
	// (or scanner) runs on this directory.
	ErrNotListening = errors.New("supervisor not running")
	// ErrBadControlDir: the control subdirectory exists but its control
	// FIFO is missing or is not a FIFO.
	ErrBadControlDir = errors.New("malformed control directory")
)

// ControlError describes a failure to open or write a control FIFO.
// Kind is ErrNotListening, ErrBadControlDir or nil (a system error in
// Err).
type ControlError struct {
	Path string // the control FIFO
	Kind error
	Err  error // the underlying system error, if any
}

func (e *ControlError) Error() string {
	switch {
	case e.Kind == ErrNotListening && e.Err == nil:
		return fmt.Sprintf("%s: %v: nothing is reading the control FIFO", e.Path, e.Kind)
	case e.Kind == ErrNotListening:
		return fmt.Sprintf("%s: %v: %v", e.Path, e.Kind, e.Err)
	case e.Kind != nil:
		return fmt.Sprintf("%s: %v: %v", e.Path, e.Kind, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *ControlError) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Control is an open control FIFO. Open it first and write later to
// make sure a listener subscribed in between sees everything the
// commands cause.
type Control struct {
	fd   int
	path string
}

// OpenControl opens DIR/SUB/control for writing without blocking and
// without ever creating it. It fails with a *ControlError whose Kind is
// ErrNotListening if no process reads the FIFO (ENXIO) or DIR/SUB does
// not exist, ErrBadControlDir if DIR/SUB exists but its control FIFO is
// missing, and nil (a system error) if DIR itself cannot be opened.
func OpenControl(dir, sub string) (*Control, error) {
	if dir == "" {
		return nil, errors.New("empty directory name")
	}
	p := filepath.Join(dir, sub, "control")
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, &ControlError{Path: p, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFIFO {
			unix.Close(fd)
			return nil, &ControlError{Path: p, Kind: ErrBadControlDir, Err: errors.New("control is not a FIFO")}
		}
		if err := unix.SetNonblock(fd, false); err != nil {
			unix.Close(fd)
			return nil, &ControlError{Path: p, Err: err}
		}
		return &Control{fd: fd, path: p}, nil
	}
	switch err {
	case unix.ENXIO:
		return nil, &ControlError{Path: p, Kind: ErrNotListening}
	case unix.ENOENT, unix.ENOTDIR, unix.EISDIR:
		// Find out which part is missing, as s6 does: a missing
		// service dir is an error, a missing control subdirectory
		// means nothing has ever supervised it.
		if fi, serr := os.Stat(dir); serr != nil {
			return nil, &ControlError{Path: p, Err: serr}
		} else if !fi.IsDir() {
			return nil, &ControlError{Path: p, Err: fmt.Errorf("%s: %w", dir, unix.ENOTDIR)}
		}
		fi, serr := os.Stat(filepath.Join(dir, sub))
		if serr != nil && errors.Is(serr, os.ErrNotExist) {
			return nil, &ControlError{Path: p, Kind: ErrNotListening, Err: fmt.Errorf("%s does not exist", filepath.Join(dir, sub))}
		}
		if serr == nil && !fi.IsDir() {
			return nil, &ControlError{Path: p, Kind: ErrBadControlDir, Err: fmt.Errorf("%s is not a directory", filepath.Join(dir, sub))}
		}
		if serr != nil {
			return nil, &ControlError{Path: p, Err: serr}
		}
		return nil, &ControlError{Path: p, Kind: ErrBadControlDir, Err: err}
	}
	return nil, &ControlError{Path: p, Err: err}
}

// Write sends the command letters, blocking if the FIFO is full.
func (c *Control) Write(letters []byte) error {
	if c.fd < 0 {
		return &ControlError{Path: c.path, Err: unix.EBADF}
	}
	for len(letters) > 0 {
		n, err := unix.Write(c.fd, letters)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if err == unix.EPIPE {
				return &ControlError{Path: c.path, Kind: ErrNotListening, Err: errors.New("the reader went away")}
			}
			return &ControlError{Path: c.path, Err: err}
		}
		letters = letters[n:]
	}
	return nil
}

// Close closes the FIFO. Closing twice is harmless.
func (c *Control) Close() error {
	if c.fd < 0 {
		return nil
	}
	fd := c.fd
	c.fd = -1
	return unix.Close(fd)
}

// WriteControl sends letters to DIR/SUB/control (see OpenControl). With
// no letters it only checks that a supervisor listens.
func WriteControl(dir, sub string, letters []byte) error {
	c, err := OpenControl(dir, sub)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Write(letters)
}

// OpenControlFIFO makes path a FIFO of mode 0600 (replacing anything
// else found there) and opens it read-write and non-blocking, so its
// reader (the supervisor) never sees end of file and writers never get
// ENXIO while it is open. It returns the raw descriptor.
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
			err = fmt.Errorf("not a FIFO (%s): remove it", Kind(st.Mode))
		}
		return -1, err
	}
	if created {
		unix.Fchmod(fd, 0o600) // exactly 0600, whatever the umask
	}
	return fd, nil
}
