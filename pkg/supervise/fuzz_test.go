package supervise

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/s6status"
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
		for _, c := range letters {
			s.command(c)
			if s.bail { // 'x' while down: a new supervisor would start
				s.bail = false
			}
		}
		st, err := s6status.Read(dir)
		if err != nil {
			t.Fatalf("after %q: %v", letters, err)
		}
		if int(st.Pid) != s.pid {
			t.Fatalf("after %q: status pid %d, supervisor pid %d", letters, st.Pid, s.pid)
		}
		// Bring everything down for the next input.
		s.status.WantUp = false
		for s.pid > 0 {
			syscall.Kill(s.pid, syscall.SIGCONT)
			syscall.Kill(s.pid, syscall.SIGKILL)
			select {
			case e := <-s.exits:
				s.childExit(e)
			case <-time.After(30 * time.Second):
				t.Fatalf("after %q: child %d not reaped", letters, s.pid)
			}
		}
		s.st = stDown
		s.stopTimer(s.timer)
	})
}
