package rc

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// KillGrace is how long a oneshot killed on timeout has to die.
const KillGrace = 5 * time.Second

var runnerSeq atomic.Uint64

// oneshot runs the up (or down) script of s under supervision: a
// runner service directory RunnerPrefix+NAME whose run is the script,
// read by execlineb, with RC_NAME set, is installed with a ./down file,
// started once ('o') when its supervisor is there, and taken apart when
// the script has exited. Its output goes where the scanner's goes (the
// catch-all log); on timeout it is sent SIGTERM then SIGKILL.
func (l *Live) oneshot(s *Service, up bool, execlineb string, deadline time.Time) (err error) {
	script := s.Down
	if up {
		script = s.Up
	}
	if len(bytes.TrimSpace(script)) == 0 {
		return nil // an absent or empty script does nothing, successfully
	}
	if execlineb == "" {
		return errors.New("execlineb not found in PATH: oneshot scripts need svinit's execlineb (put its directory in PATH)")
	}
	name := RunnerPrefix + s.Name
	dir := l.ServiceDir(name)
	if _, err := os.Lstat(dir); err == nil {
		l.dismantle(dir) // left over by a killed svrc
	}
	tmp := filepath.Join(l.state, "tmp", strconv.Itoa(os.Getpid())+".r"+strconv.FormatUint(runnerSeq.Add(1), 10))
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return err
	}
	var run bytes.Buffer
	fmt.Fprintf(&run, "#!%s -P\nexport RC_NAME %s\n", execlineb, quote(s.Name))
	run.Write(script)
	run.WriteByte('\n')
	for f, b := range map[string][]byte{"run": run.Bytes(), "down": nil} {
		mode := os.FileMode(0o644)
		if f == "run" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, mode); err != nil {
			os.RemoveAll(tmp)
			return err
		}
	}
	if err := servicedir.MakeFifodir(filepath.Join(tmp, "event"), -1); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := l.install(tmp, name); err != nil {
		return err
	}
	defer l.dismantle(dir)
	w, err := listen(dir)
	if err != nil {
		return err
	}
	defer w.close()
	if err := l.send(w, dir, "o", deadline); err != nil {
		return err
	}
	for started := false; ; {
		c, err := w.next(deadline)
		if errors.Is(err, errTimeout) {
			control(dir, "dk")
			w.next(time.Now().Add(KillGrace))
			return fmt.Errorf("%s script still running at the deadline: killed", updown(up))
		}
		if err != nil {
			return err
		}
		if c == 'u' {
			started = true
		}
		if c == 'd' && started {
			break
		}
		if c == 'x' {
			return errors.New("its runner's supervisor exited")
		}
	}
	st, err := servicedir.ReadStatus(dir)
	if err != nil {
		return err
	}
	if code, ok := st.Exited(); ok && code == 0 {
		return nil
	}
	why := wstatReason(&st)
	if code, ok := st.Exited(); ok && (code == 126 || code == 127) {
		why += " (cannot execute the script or its program: check " + filepath.Join(s.Dir, updown(up)) + " and execlineb at " + execlineb + ")"
	}
	return fmt.Errorf("%s script failed: %s", updown(up), why)
}

// dismantle takes a runner service out of the scan directory: renamed
// away first (so the scanner does not restart its supervisor), then its
// supervisor told to exit, then removed once it has.
func (l *Live) dismantle(dir string) {
	gone := filepath.Join(l.state, "tmp", strconv.Itoa(os.Getpid())+".x"+strconv.FormatUint(runnerSeq.Add(1), 10))
	if err := os.Rename(dir, gone); err != nil {
		return
	}
	if ok, _ := servicedir.Supervised(gone); ok {
		if w, err := listen(gone); err == nil {
			if control(gone, "x") == nil {
				deadline := time.Now().Add(KillGrace)
				for {
					c, err := w.next(deadline)
					if err != nil || c == 'x' {
						break
					}
				}
			}
			w.close()
		}
	}
	if err := os.RemoveAll(gone); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "svrc: warning: cannot remove %s: %v\n", gone, err)
	}
}

func updown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// quote makes s one execlineb word.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
