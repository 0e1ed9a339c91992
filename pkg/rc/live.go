package rc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient"
)

// Defaults of svrc -c and -l: where the definitions are, and the scan
// directory svscan watches.
const (
	DefaultDefs = "/etc/svinit/rc"
	DefaultScan = "/run/service"
)

// StateDir is svrc's own directory in the scan directory; the scanner
// ignores it (its name starts with a dot). It holds:
//
//	lock         held (flock) by the svrc that changes the state
//	oneshot/NAME exists while oneshot NAME is up
//	failed/NAME  why NAME's last transition failed
//	tmp/         service directories being built or taken apart
const StateDir = ".svrc"

// RunnerPrefix starts the name of the service directory that runs one
// oneshot script under supervision.
const RunnerPrefix = "svrc-oneshot-"

// Live is the live state of the services svrc manages on one scan
// directory: longruns are up when their service directory is in the
// scan directory without a ./down file (as s6-rc marks them), oneshots
// when StateDir/oneshot/NAME exists.
type Live struct {
	Scan  string
	state string
	lock  *os.File
	db    *DB
	// abortState interrupts a change (abort.go).
	abortState aborter
}

// OpenLive opens (creating it if needed) the live state of db's
// services on scan. With lock, it takes the state lock, waiting for another svrc if
// block is set and failing at once if not.
func OpenLive(scan string, db *DB, lock, block bool) (*Live, error) {
	st, err := os.Stat(scan)
	if err != nil {
		return nil, fmt.Errorf("scan directory %s: %v (start svscan on it, or give it with -l)", scan, unwrapPath(err))
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("scan directory %s: not a directory (give svscan's scan directory with -l)", scan)
	}
	l := &Live{Scan: scan, state: filepath.Join(scan, StateDir), db: db}
	for _, d := range []string{"", "oneshot", "failed", "tmp"} {
		if err := os.Mkdir(filepath.Join(l.state, d), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			if !lock && errors.Is(err, fs.ErrPermission) {
				return l, nil // reading only
			}
			return nil, fmt.Errorf("state directory: %w", err)
		}
	}
	if !lock {
		return l, nil
	}
	f, err := os.OpenFile(filepath.Join(l.state, "lock"), os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock: %w", err)
	}
	how := syscall.LOCK_EX
	if !block {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: another svrc is changing the state (wait for it, or give -b to wait)", f.Name())
		}
		return nil, fmt.Errorf("state lock %s: %w", f.Name(), err)
	}
	l.lock = f
	return l, nil
}

// Close releases the lock.
func (l *Live) Close() error {
	if l.lock != nil {
		return l.lock.Close()
	}
	return nil
}

// ServiceDir is where longrun name lives in the scan directory: its own
// directory, or its producer's log/ if it consumes a producer's output.
func (l *Live) ServiceDir(name string) string {
	if l.db != nil {
		if p, ok := l.db.LoggerOf[name]; ok {
			return filepath.Join(l.Scan, p, "log")
		}
	}
	return filepath.Join(l.Scan, name)
}

// IsUp tells whether svrc counts the atomic service s as up.
func (l *Live) IsUp(s *Service) bool {
	if s.Type == Oneshot {
		_, err := os.Lstat(filepath.Join(l.state, "oneshot", s.Name))
		return err == nil
	}
	dir := l.ServiceDir(s.Name)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return false
	}
	_, err := os.Lstat(filepath.Join(dir, "down"))
	return errors.Is(err, fs.ErrNotExist)
}

func (l *Live) setOneshot(name string, up bool) error {
	p := filepath.Join(l.state, "oneshot", name)
	if up {
		return os.WriteFile(p, nil, 0o644)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// setFailed records why name's transition failed ("" clears it).
func (l *Live) setFailed(name, reason string) {
	p := filepath.Join(l.state, "failed", name)
	if reason == "" {
		os.Remove(p)
		return
	}
	os.WriteFile(p, []byte(time.Now().UTC().Format(time.RFC3339)+" "+reason+"\n"), 0o644)
}

// Failed returns the recorded reason of name's last failed transition.
func (l *Live) Failed(name string) string {
	b, err := os.ReadFile(filepath.Join(l.state, "failed", name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// rescan asks the scanner to scan now (svscanctl -a).
func (l *Live) rescan() error {
	err := servicedir.WriteControl(l.Scan, servicedir.ScanDir, []byte{'a'})
	if errors.Is(err, servicedir.ErrNotListening) {
		return fmt.Errorf("no svscan runs on %s: start it first (%v)", l.Scan, err)
	}
	return err
}

// watch follows one service through its event fifodir.
type watch struct {
	dir string
	l   *servicedir.Listener
	buf []byte
}

// listen subscribes to dir's events, creating event/ if needed.
func listen(dir string) (*watch, error) {
	ev := svclient.EventDir(dir)
	if _, err := os.Lstat(ev); errors.Is(err, fs.ErrNotExist) {
		if err := servicedir.MakeFifodir(ev, -1); err != nil {
			return nil, fmt.Errorf("%s: %w", ev, err)
		}
	}
	l, err := servicedir.ListenFifodir(ev)
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", ev, err)
	}
	return &watch{dir: dir, l: l}, nil
}

// next returns the next event byte, or an error at the deadline (zero:
// none) or when the listener fails.
func (w *watch) next(deadline time.Time) (byte, error) {
	for len(w.buf) == 0 {
		b := make([]byte, 32)
		n, err := w.l.Read(b, deadline)
		if n > 0 {
			w.buf = b[:n]
			break
		}
		if errors.Is(err, servicedir.ErrTimeout) {
			return 0, errTimeout
		}
		if err != nil {
			return 0, err
		}
	}
	c := w.buf[0]
	w.buf = w.buf[1:]
	return c, nil
}

func (w *watch) close() { w.l.Close() }

var errTimeout = errors.New("timed out")

// send sends letters to dir's supervisor, watched by w. If it is not
// listening yet (a scan is due, or its supervisor is starting), the
// scanner is asked to scan and the letters go once the supervisor
// announces itself ('s', which follows the opening of its control).
func (l *Live) send(w *watch, dir, letters string, deadline time.Time) error {
	err := control(dir, letters)
	if !errors.Is(err, servicedir.ErrNotListening) && !errors.Is(err, servicedir.ErrBadControlDir) {
		return err
	}
	if err := l.rescan(); err != nil {
		return err
	}
	for {
		c, err := w.next(deadline)
		if errors.Is(err, errTimeout) {
			return fmt.Errorf("%s was not supervised in time (is svscan running on %s?)", dir, l.Scan)
		}
		if err != nil {
			return err
		}
		if c == 's' {
			return control(dir, letters)
		}
	}
}

// control sends letters to dir's supervisor.
func control(dir, letters string) error {
	return servicedir.WriteControl(dir, servicedir.SuperviseDir, []byte(letters))
}

// deathReason says how the last run of dir ended, from its status.
func deathReason(dir string) string {
	st, err := servicedir.ReadStatus(dir)
	if err != nil || st.Up() {
		return ""
	}
	return wstatReason(&st)
}

func wstatReason(st *servicedir.Status) string {
	if code, ok := st.Exited(); ok {
		return "exit " + strconv.Itoa(code)
	}
	if sig, ok := st.Signaled(); ok {
		return "killed by " + svclient.SignalName(int(sig))
	}
	return ""
}
