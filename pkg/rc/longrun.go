package rc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// build makes longrun s's service directory under StateDir/tmp, ready
// to be renamed into the scan directory: the supervisor's files and the
// data/ and env/ trees copied from the definition, an event fifodir,
// and a ./down file unless up (then the scanner starts it at once).
func (l *Live) build(s *Service, up bool) (string, error) {
	tmp := filepath.Join(l.state, "tmp", strconv.Itoa(os.Getpid())+"."+s.Name)
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	for _, f := range LongrunFiles {
		if err := copyFile(filepath.Join(s.Dir, f), filepath.Join(tmp, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("copy %s: %w", filepath.Join(s.Dir, f), err)
		}
	}
	for _, d := range LongrunDirs {
		if err := copyTree(filepath.Join(s.Dir, d), filepath.Join(tmp, d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("copy %s: %w", filepath.Join(s.Dir, d), err)
		}
	}
	if !up {
		if err := os.WriteFile(filepath.Join(tmp, "down"), nil, 0o644); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	if err := servicedir.MakeFifodir(filepath.Join(tmp, "event"), -1); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

// install renames a built directory into the scan directory as name.
// The rename is atomic: the scanner sees the whole directory or none.
func (l *Live) install(tmp, name string) error {
	dst := l.ServiceDir(name)
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("install %s: %w", dst, err)
	}
	return nil
}

// installFor installs longrun s (to be started) into the scan
// directory. The two services of a pipeline go in together, the
// consumer as the producer's log/, the one not started with ./down:
// the scanner makes the pipe between them only for a new directory.
// The members of a longer pipeline or a funnel go in together too,
// each under its own name with producer-for (installPipeline).
func (l *Live) installFor(s *Service) error {
	if l.db != nil {
		if members, ok := l.db.Pipeline[s.Name]; ok {
			return l.installPipeline(s, members)
		}
	}
	top, logger := s, (*Service)(nil)
	if l.db != nil {
		if p, ok := l.db.LoggerOf[s.Name]; ok {
			top, logger = l.db.Services[p], s
			if _, err := os.Stat(filepath.Join(l.Scan, p)); err == nil {
				return fmt.Errorf("its producer %s is installed without it as log/: bring %s down (svrc -d change %s), remove %s, and change again",
					p, p, p, filepath.Join(l.Scan, p))
			}
		} else if c, ok := l.db.Consumer[s.Name]; ok && l.db.LoggerOf[c] == s.Name {
			logger = l.db.Services[c]
		}
	}
	tmp, err := l.build(top, top == s)
	if err != nil {
		return err
	}
	if logger != nil {
		ltmp, err := l.build(logger, logger == s)
		if err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := os.Rename(ltmp, filepath.Join(tmp, "log")); err != nil {
			os.RemoveAll(tmp)
			os.RemoveAll(ltmp)
			return err
		}
	}
	return l.install(tmp, top.Name)
}

// installPipeline installs every member of s's pipeline not installed
// yet, the others than s with ./down, producers before their consumer
// (each with producer-for naming it): svscan makes a consumer's pipe
// when it or a producer naming it is first set up, so a consumer must
// not be seen before its producers.
func (l *Live) installPipeline(s *Service, members []string) error {
	for _, n := range members {
		m := l.db.Services[n]
		if _, err := os.Stat(l.ServiceDir(n)); err == nil {
			continue
		}
		tmp, err := l.build(m, m == s)
		if err != nil {
			return err
		}
		if m.ProducerFor != "" {
			if err := os.WriteFile(filepath.Join(tmp, servicedir.ProducerFor), []byte(m.ProducerFor+"\n"), 0o644); err != nil {
				os.RemoveAll(tmp)
				return err
			}
		}
		if err := l.install(tmp, n); err != nil {
			return err
		}
	}
	return nil
}

// longrunUp brings longrun s up: installed if it is not yet (then the
// scanner starts it), else its ./down removed and 'u' sent. It waits
// until the service is up, and ready if it has a notification-fd.
func (l *Live) longrunUp(s *Service, deadline time.Time) error {
	dir := l.ServiceDir(s.Name)
	if l.aborted() {
		return errNotStarted
	}
	fresh := false
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := l.installFor(s); err != nil {
			return err
		}
		fresh = true
	} else if err := os.Remove(filepath.Join(dir, "down")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	w, err := listen(dir)
	if err != nil {
		return err
	}
	defer w.close()
	release, ok := l.interruptible(w)
	if !ok {
		l.stopFailed(dir)
		return errInterruptedUp
	}
	defer release()
	up, ready := false, false
	if st, err := servicedir.ReadStatus(dir); err == nil {
		up, ready = st.Up() && !st.Finishing, st.Ready
	}
	done := func() bool { return up && (ready || !s.NotificationFd) }
	if done() {
		return nil
	}
	if fresh {
		err = l.rescan()
	} else {
		err = l.send(w, dir, "u", deadline)
	}
	if err != nil {
		if l.aborted() {
			l.stopFailed(dir)
			return errInterruptedUp
		}
		return err
	}
	deaths := 0
	for !done() {
		c, err := w.next(deadline)
		if err != nil {
			l.stopFailed(dir)
			if l.aborted() {
				return errInterruptedUp
			}
			if errors.Is(err, errTimeout) {
				what := "up"
				if s.NotificationFd {
					what = "ready"
				}
				why := fmt.Sprintf("not %s in time", what)
				if deaths > 0 {
					why += fmt.Sprintf(" (run died %d times, last: %s)", deaths, deathReason(dir))
				}
				return errors.New(why)
			}
			return err
		}
		switch c {
		case 'u':
			up, ready = true, false
		case 'U':
			up, ready = true, true
		case 'd':
			up, ready = false, false
			deaths++
		case 'O':
			l.stopFailed(dir)
			return fmt.Errorf("permanent failure (finish exited 125; last run: %s)", deathReason(dir))
		case 'x':
			return errors.New("its supervisor exited")
		}
	}
	return nil
}

// stopFailed puts a longrun that failed to come up in a known down
// state, as s6-rc does.
func (l *Live) stopFailed(dir string) {
	os.WriteFile(filepath.Join(dir, "down"), nil, 0o644)
	control(dir, "d")
}

// longrunDown brings longrun s down: ./down created and 'd' sent; it
// waits until run is dead and finish done.
func (l *Live) longrunDown(s *Service, deadline time.Time) error {
	dir := l.ServiceDir(s.Name)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if l.aborted() {
		return errNotStarted
	}
	if err := os.WriteFile(filepath.Join(dir, "down"), nil, 0o644); err != nil {
		return err
	}
	w, err := listen(dir)
	if err != nil {
		return err
	}
	defer w.close()
	release, ok := l.interruptible(w)
	if !ok {
		control(dir, "d")
		return errInterruptedDown
	}
	defer release()
	st, err := servicedir.ReadStatus(dir)
	if err != nil {
		return nil // never supervised: nothing runs
	}
	up, ready := st.Up() || st.Finishing, st.Ready
	if !up && ready {
		return nil
	}
	if err := control(dir, "d"); err != nil {
		if errors.Is(err, servicedir.ErrNotListening) || errors.Is(err, servicedir.ErrBadControlDir) {
			return nil // no supervisor yet: it will read ./down
		}
		return err
	}
	for up || !ready {
		c, err := w.next(deadline)
		if err != nil {
			if l.aborted() {
				return errInterruptedDown
			}
			if errors.Is(err, errTimeout) {
				return errors.New("still not down in time (check its down-signal, timeout-kill and finish)")
			}
			return err
		}
		switch c {
		case 'u', 'U':
			up = true
		case 'd':
			up, ready = false, false
		case 'D':
			up, ready = false, true
		case 'x':
			return nil
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file")
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTree copies a directory of regular files, subdirectories and
// symbolic links.
func copyTree(src, dst string) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("not a directory")
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return os.Mkdir(to, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, to)
		default:
			return copyFile(p, to)
		}
	})
}
