package svscan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Any number of pending 'a' is one scan: a MiB of them, written while
// the scanner supervises four services, costs at most one scan per read
// of the control FIFO (the scanner used to scan once per letter).
func TestControlLettersCoalesce(t *testing.T) {
	d := t.TempDir()
	for i := 0; i < 4; i++ {
		dir := filepath.Join(d, fmt.Sprintf("s%d", i))
		os.Mkdir(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out syncBuf
	s, err := New(Options{Dir: d, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- s.Run() }()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < 4; i++ {
		for {
			st, err := servicedir.ReadStatus(filepath.Join(d, fmt.Sprintf("s%d", i)))
			if err == nil && st.Up() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("s%d not up; output:\n%s", i, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	before := s.scans.Load()
	f, err := os.OpenFile(filepath.Join(d, ".s6-svscan", "control"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 20
	if _, err := f.Write(bytes.Repeat([]byte("a"), size)); err != nil {
		t.Fatal(err)
	}
	// q comes after every a: once the scanner has exited, all were seen.
	f.WriteString("q")
	f.Close()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("scanner did not exit on q; output:\n%s", out.String())
	}
	scans, reads := s.scans.Load()-before, s.reads.Load()
	t.Logf("%d scans for %d bytes of 'a' in %d reads", scans, size, reads)
	if scans < 1 || scans > reads {
		t.Errorf("%d scans for %d reads of the control FIFO: want between 1 and one per read", scans, reads)
	}
	if scans > size/1024 {
		t.Errorf("%d scans for %d letters: not coalesced", scans, size)
	}
	if strings.Contains(out.String(), "ignored") {
		t.Errorf("letters reported as unknown:\n%s", out.String())
	}
	// The services were stopped by q.
	for i := 0; i < 4; i++ {
		if st, _ := servicedir.ReadStatus(filepath.Join(d, fmt.Sprintf("s%d", i))); st.Up() {
			t.Errorf("s%d still up after q", i)
			syscall.Kill(int(st.Pid), syscall.SIGKILL)
		}
	}
}
