// Package svtest fakes the supervisor side of s6's on-disk interface for
// tests of supervision clients: a service directory with supervise/
// (lock, control FIFO, status) and an event/ fifodir, driven by the
// test instead of a real supervisor.
package svtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// Service is a fake supervised service directory.
type Service struct {
	Dir string
	t   testing.TB

	mu       sync.Mutex
	st       servicedir.Status
	received []byte
	lockFd   int
	ctl      *os.File
	wg       sync.WaitGroup
}

// New creates a service directory under t.TempDir() with a status file
// holding st, a control FIFO nobody reads and an event/ fifodir. It is
// not supervised until Lock is called.
func New(t testing.TB, st servicedir.Status) *Service {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "svc")
	s := &Service{Dir: dir, t: t, lockFd: -1}
	for _, d := range []string{dir, filepath.Join(dir, "supervise")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mkfifo(filepath.Join(dir, "supervise", "control"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := servicedir.MakeFifodir(filepath.Join(dir, servicedir.EventDir), -1); err != nil {
		t.Fatal(err)
	}
	s.SetStatus(st)
	t.Cleanup(s.Stop)
	return s
}

// Lock takes the supervise/lock lock, as a running supervisor does,
// with the supervisor's own code (servicedir.TakeLockAt): an
// open-file-description lock, which clients that open and close the
// lock file in this same process do not drop.
func (s *Service) Lock() {
	s.t.Helper()
	p := servicedir.LockPath(s.Dir)
	fd, err := servicedir.TakeLockAt(unix.AT_FDCWD, p, 0o644)
	if err != nil {
		s.t.Fatalf("lock %s: %v", p, err)
	}
	s.lockFd = fd
}

// Unlock releases the lock taken by Lock.
func (s *Service) Unlock() {
	if s.lockFd >= 0 {
		unix.Close(s.lockFd)
		s.lockFd = -1
	}
}

// SetStatus rewrites supervise/status.
func (s *Service) SetStatus(st servicedir.Status) {
	s.mu.Lock()
	s.st = st
	s.mu.Unlock()
	if err := servicedir.WriteStatus(s.Dir, &st); err != nil {
		s.t.Error(err)
	}
}

// Status returns the last status set.
func (s *Service) Status() servicedir.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// Notify sends event bytes to the listeners of event/.
func (s *Service) Notify(ev string) {
	if _, err := servicedir.NotifyFifodir(filepath.Join(s.Dir, servicedir.EventDir), []byte(ev)); err != nil {
		s.t.Error(err)
	}
}

// Handler reacts to one control letter.
type Handler func(s *Service, c byte)

// Serve starts reading supervise/control (held open read-write, as
// s6-supervise does, so writers never see ENXIO) and calls h for every
// letter; Received returns them all. A nil h only records.
func (s *Service) Serve(h Handler) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(s.Dir, "supervise", "control"), os.O_RDWR, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	s.ctl = f
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 64)
		for {
			n, err := f.Read(buf)
			for _, c := range buf[:n] {
				s.mu.Lock()
				s.received = append(s.received, c)
				s.mu.Unlock()
				if h != nil {
					h(s, c)
				}
			}
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					s.t.Error(err)
				}
				return
			}
		}
	}()
}

// Received returns the control letters read so far.
func (s *Service) Received() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.received)
}

// Stop stops serving and releases the lock.
func (s *Service) Stop() {
	if s.ctl != nil {
		s.ctl.Close()
		s.wg.Wait()
		s.ctl = nil
	}
	s.Unlock()
}

// Up returns a status "up with pid, wanted up".
func Up(pid uint64) servicedir.Status {
	now := tai64n.Now()
	return servicedir.Status{Stamp: now, ReadyStamp: now, Pid: pid, WantUp: true}
}

// Down returns a status "down and finished (ready), exited with code".
func Down(code int, wantUp bool) servicedir.Status {
	now := tai64n.Now()
	return servicedir.Status{Stamp: now, ReadyStamp: now, Wstat: uint16(code&0xff) << 8, Ready: true, WantUp: wantUp}
}

// Simple is a Handler behaving like a supervisor whose service starts
// and stops at once and never notifies readiness: u and o bring it up
// ('u' event), d brings it down ('d' then 'D'), r and t while up restart
// it when it is wanted up, x makes it exit ('x') once down.
func Simple(s *Service, c byte) {
	st := s.Status()
	up := st.Pid != 0
	switch c {
	case 'u', 'o':
		st.WantUp = c == 'u'
		s.SetStatus(st)
		if !up {
			s.SetStatus(Up(4242))
			st = s.Status()
			st.WantUp = c == 'u'
			s.SetStatus(st)
			s.Notify("u")
		}
	case 'd':
		if up {
			d := Down(0, false)
			d.Wstat = uint16(unix.SIGTERM)
			s.SetStatus(d)
			s.Notify("dD")
		} else {
			st.WantUp = false
			s.SetStatus(st)
		}
	case 'r', 't':
		if up {
			d := Down(0, st.WantUp)
			d.Wstat = uint16(unix.SIGTERM)
			s.SetStatus(d)
			s.Notify("dD")
			if st.WantUp {
				s.SetStatus(Up(4243))
				s.Notify("u")
			}
		}
	case 'x':
		if !up {
			s.Notify("x")
		}
	}
}

// WaitListener blocks until a client listens on s's event/ (a FIFO
// named ftrig1:@... exists there), or stop is closed (then it returns
// false). It watches the directory with inotify: no polling.
func WaitListener(s *Service, stop <-chan struct{}) bool {
	ev := filepath.Join(s.Dir, servicedir.EventDir)
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		s.t.Error(err)
		return false
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, ev, unix.IN_MOVED_TO|unix.IN_CREATE); err != nil {
		s.t.Error(err)
		return false
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
		case <-done:
		}
		f.SetReadDeadline(time.Unix(1, 0))
	}()
	buf := make([]byte, 4096)
	for {
		if listening(ev) {
			return true
		}
		if _, err := f.Read(buf); err != nil {
			return listening(ev)
		}
	}
}

func listening(ev string) bool {
	ents, _ := os.ReadDir(ev)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), servicedir.FifodirPrefix) {
			return true
		}
	}
	return false
}
