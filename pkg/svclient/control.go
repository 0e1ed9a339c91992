package svclient

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Subdirectories holding a control FIFO, as s6 names them.
const (
	SuperviseDir = "supervise"  // per service: supervise/control
	ScanDir      = ".s6-svscan" // per scan directory: .s6-svscan/control
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
