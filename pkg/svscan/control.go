package svscan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// want is what the control letters and signals received since the loop
// last acted ask for, as s6-svscan keeps it: flags, not a queue. Any
// number of 'a' is one scan; a prune asked for with a scan follows it.
type want struct {
	scan    bool // a, h, SIGALRM, SIGHUP; a poll; a rescan after a failure
	prune   byte // 0, 'n' (h, SIGHUP too) or 'N'
	reap    bool // z
	kill    byte // 0, 't' (t, i, SIGTERM, SIGINT) or 'q' (q, SIGQUIT)
	abort   bool // b, SIGABRT
	root    bool // R: switch the root (root.go)
	exec    bool // U: re-exec in place, an upgrade (handover.go)
	unknown int  // bytes that are not commands
}

// letters folds control letters into w.
func (w *want) letters(b []byte) {
	for _, c := range b {
		switch c {
		case 'a':
			w.scan = true
		case 'h':
			w.scan = true
			if w.prune == 0 {
				w.prune = 'n'
			}
		case 'n':
			if w.prune == 0 {
				w.prune = 'n'
			}
		case 'N':
			w.prune = 'N'
		case 't', 'i':
			if w.kill == 0 {
				w.kill = 't'
			}
		case 'q':
			w.kill = 'q'
		case 'b':
			w.abort = true
		case 'z':
			w.reap = true
		case 'R':
			w.root = true
		case 'U':
			w.exec = true
		case '\n':
		default:
			w.unknown++
		}
	}
}

// merge adds what o asks for to w.
func (w *want) merge(o want) {
	w.scan = w.scan || o.scan
	if o.prune == 'N' || w.prune == 0 {
		w.prune = o.prune
	}
	w.reap = w.reap || o.reap
	if o.kill == 'q' || w.kill == 0 {
		w.kill = o.kill
	}
	w.abort = w.abort || o.abort
	w.root = w.root || o.root
	w.exec = w.exec || o.exec
	w.unknown += o.unknown
}

// openControl creates (if need be) and opens ctl/control, the scan
// directory's control FIFO, for reading.
func openControl(ctl string) (*os.File, error) {
	p := filepath.Join(ctl, "control")
	fd, err := servicedir.OpenControlFIFO(p)
	if err != nil {
		return nil, fmt.Errorf(".s6-svscan/control: %w", err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

// The control FIFO's reader, as a handover pauses it: asked to pause
// (and its read interrupted by a deadline), then paused until resumed.
const (
	ctlReading = iota
	ctlPausing
	ctlPaused
)

// pauseControl stops the reader before its next read, so that no letter
// is taken from the FIFO and left unapplied; false if it did not stop
// within a second (it had ended).
func (s *Scanner) pauseControl() bool {
	s.mu.Lock()
	s.ctlState = ctlPausing
	s.mu.Unlock()
	if s.control.SetReadDeadline(time.Unix(1, 0)) != nil {
		return false
	}
	select {
	case <-s.ctlPaused:
		return true
	case <-time.After(time.Second):
		return false
	}
}

// resumeControl undoes pauseControl.
func (s *Scanner) resumeControl() {
	s.control.SetReadDeadline(time.Time{})
	s.mu.Lock()
	st := s.ctlState
	s.ctlState = ctlReading
	s.mu.Unlock()
	if st == ctlPaused {
		select {
		case <-s.ctlPaused: // paused after pauseControl gave up
		default:
		}
		s.ctlResume <- struct{}{}
	}
}

// readControl reads .s6-svscan/control until it is closed. Whatever a
// read brings is folded into s.in at once: the reader never waits for
// the loop, and any number of letters read while a scan runs costs one
// more scan at most.
func (s *Scanner) readControl() {
	buf := make([]byte, 4096)
	for {
		n, err := s.control.Read(buf)
		if n > 0 {
			s.reads.Add(1)
			s.mu.Lock()
			s.in.letters(buf[:n])
			s.mu.Unlock()
			s.kick()
		}
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// A handover pauses the reader (handover.go).
				s.mu.Lock()
				pause := s.ctlState == ctlPausing
				if pause {
					s.ctlState = ctlPaused
				}
				s.mu.Unlock()
				if pause {
					s.ctlPaused <- struct{}{}
					<-s.ctlResume
				}
				continue
			}
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			s.logf("read .s6-svscan/control: %v", err)
			return
		}
	}
}
