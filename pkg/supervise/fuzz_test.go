package supervise

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
)

// FuzzControlLetters feeds arbitrary bytes to the control-letter handler
// of a real service (its run is a sleep) and checks that nothing panics
// and that supervise/status always decodes and agrees with the
// supervisor's idea of the child.
func FuzzControlLetters(f *testing.F) {
	for _, seed := range []string{"u", "d", "udu", "o", "O", "x", "r", "pc", "PCK", "uk", "DU", "\x00\xff", "uuuudddd", "a b q h k t i 1 2 y"} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "down"), nil, 0o644)
	r := reaper.New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	s, err := New(dir, Options{Reaper: r})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, letters []byte) {
		if len(letters) > 64 {
			letters = letters[:64]
		}
		// Exits arrive on the reaper's goroutine meanwhile; holding the
		// service's lock keeps status and supervisor in step.
		s.mu.Lock()
		for _, c := range letters {
			s.command(c)
			if s.bail { // 'x' while down: a new supervisor would start
				s.bail = false
			}
		}
		st, err := servicedir.ReadStatus(dir)
		pid := s.pid
		// Bring everything down for the next input.
		s.status.WantUp = false
		s.mu.Unlock()
		if err != nil {
			t.Fatalf("after %q: %v", letters, err)
		}
		if int(st.Pid) != pid {
			t.Fatalf("after %q: status pid %d, supervisor pid %d", letters, st.Pid, pid)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			s.mu.Lock()
			pid := s.pid
			if pid == 0 {
				s.st = stDown
				s.stopTimer()
				s.mu.Unlock()
				break
			}
			s.mu.Unlock()
			syscall.Kill(pid, syscall.SIGCONT)
			syscall.Kill(pid, syscall.SIGKILL)
			if time.Now().After(deadline) {
				t.Fatalf("after %q: child %d not reaped", letters, pid)
			}
			time.Sleep(time.Millisecond)
		}
	})
}
