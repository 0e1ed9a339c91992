package servicedir

// event/: s6's fifodir event protocol (ftrig1), both ends.
//
// A fifodir is a directory where listeners create FIFOs named
// "ftrig1:@<24 hex digits of TAI64N>:<random suffix>" and read from
// them; a notifier writes event bytes, non-blocking, to every such FIFO
// and removes the ones that have no reader any more. s6-supervise uses
// the "event" directory of a service as a fifodir, with mode 03730.

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// EventDir is a service's fifodir, where its supervisor announces the
// event letters below.
const EventDir = "event"

// Event letters written to event/, as s6-supervise writes them.
const (
	EventStart    = 's' // supervisor started
	EventUp       = 'u' // ./run spawned
	EventReady    = 'U' // ./run notified readiness
	EventDown     = 'd' // ./run died
	EventDownDone = 'D' // ./finish done (or none): really down
	EventPermFail = 'O' // ./finish exited 125: will not restart
	EventExit     = 'x' // supervisor exiting
)

// FifodirPrefix starts the name of every listener FIFO in a fifodir.
const FifodirPrefix = "ftrig1:@"

// MakeFifodir creates dir as a fifodir owned by the current user, with group
// gid (-1 to keep the default) and mode 03730 (setgid, sticky, rwx for
// the owner, wx for the group): listeners in the group may create FIFOs
// but not list or remove others'. An existing directory is fixed up.
func MakeFifodir(dir string, gid int) error {
	return MakeFifodirAt(unix.AT_FDCWD, dir, gid)
}

// MakeFifodirAt is MakeFifodir for name relative to the directory open as dirfd.
func MakeFifodirAt(dirfd int, name string, gid int) error {
	if err := unix.Mkdirat(dirfd, name, 0o700); err != nil && err != unix.EEXIST {
		return &os.PathError{Op: "mkdir", Path: name, Err: err}
	}
	if gid >= 0 {
		if err := unix.Fchownat(dirfd, name, -1, gid, 0); err != nil {
			return &os.PathError{Op: "chown", Path: name, Err: err}
		}
	}
	if err := unix.Fchmodat(dirfd, name, 0o3730, 0); err != nil {
		return &os.PathError{Op: "chmod", Path: name, Err: err}
	}
	return nil
}

// NotifyFifodir writes the bytes in ev to every listener FIFO in dir without
// blocking. FIFOs whose reader is gone (ENXIO) are removed. It returns
// the number of listeners that got the event. A full FIFO (a listener
// that does not read) loses the event rather than blocking the notifier.
func NotifyFifodir(dir string, ev []byte) (int, error) {
	return NotifyFifodirAt(unix.AT_FDCWD, dir, ev)
}

// NotifyFifodirAt is NotifyFifodir for the fifodir name relative to the directory open
// as dirfd. It works in raw system calls: a supervisor notifies on every
// state change, mostly to a fifodir with no listener.
func NotifyFifodirAt(dirfd int, name string, ev []byte) (int, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var buf [4096]byte
	var names []string
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, &os.PathError{Op: "readdir", Path: name, Err: err}
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	count := 0
	for _, name := range names {
		if !strings.HasPrefix(name, FifodirPrefix) {
			continue
		}
		// Only a FIFO, never through a link: event/ is writable by the
		// supervisor's group, and a planted link must not make the
		// supervisor write to what it points to.
		w, err := unix.Openat(fd, name, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ENXIO {
				unix.Unlinkat(fd, name, 0)
			}
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(w, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			unix.Close(w)
			continue
		}
		n, err := unix.Write(w, ev)
		unix.Close(w)
		if err == unix.EPIPE {
			unix.Unlinkat(fd, name, 0)
			continue
		}
		if err == nil && n == len(ev) {
			count++
		}
	}
	return count, nil
}

// CleanFifodir removes listener FIFOs of dir that have no reader.
func CleanFifodir(dir string) error {
	_, err := NotifyFifodir(dir, nil)
	return err
}

// Listener is one subscription to a fifodir.
type Listener struct {
	path string
	r, w *os.File
}

const suffixChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz-_0123456789abcdef"

// ListenFifodir subscribes to the fifodir dir: it creates a FIFO there (under a
// hidden name first, then renamed into place so a notifier never sees a
// FIFO without its reader) and holds it open for reading. Events written
// after ListenFifodir returns are never missed.
func ListenFifodir(dir string) (*Listener, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	for i := range rnd {
		rnd[i] = suffixChars[rnd[i]&63]
	}
	name := FifodirPrefix[:len(FifodirPrefix)-1] + tai64n.Now().Label() + ":" + string(rnd[:])
	tmp := filepath.Join(dir, "."+name)
	final := filepath.Join(dir, name)
	old := unix.Umask(0)
	err := unix.Mkfifo(tmp, 0o622)
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("fifodir %s: cannot create listener FIFO: %w", dir, err)
	}
	rfd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Unlink(tmp)
		return nil, fmt.Errorf("fifodir %s: %w", dir, err)
	}
	// Our own writer keeps the FIFO from reporting EOF when a notifier closes.
	wfd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(rfd)
		unix.Unlink(tmp)
		return nil, fmt.Errorf("fifodir %s: %w", dir, err)
	}
	if err := unix.Rename(tmp, final); err != nil {
		unix.Close(rfd)
		unix.Close(wfd)
		unix.Unlink(tmp)
		return nil, fmt.Errorf("fifodir %s: %w", dir, err)
	}
	// os.NewFile registers a non-blocking fd with the runtime poller, so
	// reads honour deadlines.
	return &Listener{path: final, r: os.NewFile(uintptr(rfd), final), w: os.NewFile(uintptr(wfd), final)}, nil
}

// Path is the listener's FIFO.
func (l *Listener) Path() string { return l.path }

// ErrTimeout is returned by Read when the deadline passes.
var ErrTimeout = errors.New("timed out")

// Read waits until at least one event byte arrives or the deadline
// passes (a zero deadline waits forever) and returns the bytes read.
func (l *Listener) Read(buf []byte, deadline time.Time) (int, error) {
	if err := l.r.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := l.r.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, ErrTimeout
	}
	if err == io.EOF {
		return n, fmt.Errorf("fifodir listener %s: unexpected EOF", l.path)
	}
	return n, err
}

// Fd returns the read descriptor, for callers that poll several listeners.
func (l *Listener) Fd() *os.File { return l.r }

// Close unsubscribes: it removes the FIFO and closes it.
func (l *Listener) Close() error {
	err := unix.Unlink(l.path)
	if errors.Is(err, syscall.ENOENT) {
		err = nil
	}
	l.w.Close()
	l.r.Close()
	return err
}
