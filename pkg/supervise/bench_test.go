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

// benchService supervises a service whose ./run sleeps, up, with a
// listener on its event/ fifodir.
func benchService(b *testing.B) (*Service, *servicedir.Listener) {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := servicedir.MakeFifodir(filepath.Join(dir, "event"), -1); err != nil {
		b.Fatal(err)
	}
	ev, err := servicedir.ListenFifodir(filepath.Join(dir, "event"))
	if err != nil {
		b.Fatal(err)
	}
	r := reaper.New()
	stop := make(chan struct{})
	go r.Run(stop, nil)
	s, err := New(dir, Options{Reaper: r})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		s.Control("dx")
		select {
		case <-s.Done():
		case <-time.After(20 * time.Second):
			b.Error("supervisor did not exit on dx")
		}
		close(stop)
		ev.Close()
	})
	s.Start()
	waitEvent(b, ev, servicedir.EventUp)
	return s, ev
}

// waitEvent reads event/ until ev comes.
func waitEvent(b *testing.B, l *servicedir.Listener, ev byte) {
	b.Helper()
	buf := make([]byte, 64)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := l.Read(buf, deadline)
		if err != nil {
			b.Fatalf("waiting for event %c: %v", ev, err)
		}
		for _, c := range buf[:n] {
			if c == ev {
				return
			}
		}
	}
}

// BenchmarkControl: one control letter on an up service (y: SIGWINCH,
// which sleep ignores; no status write), the cost of an event through
// the state machine.
func BenchmarkControl(b *testing.B) {
	s, _ := benchService(b)
	for b.Loop() {
		s.Control("y")
	}
}

// BenchmarkRestart: ./run killed, then respawned at once (it was started
// over a second ago): from the kill to the 'u' event.
func BenchmarkRestart(b *testing.B) {
	s, ev := benchService(b)
	for b.Loop() {
		s.mu.Lock()
		s.spawned = time.Time{}
		pid := s.pid
		s.mu.Unlock()
		syscall.Kill(pid, syscall.SIGKILL)
		waitEvent(b, ev, servicedir.EventUp)
	}
}
