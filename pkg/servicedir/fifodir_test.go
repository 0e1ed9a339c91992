package servicedir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMakeMode(t *testing.T) {
	d := filepath.Join(t.TempDir(), "event")
	if err := MakeFifodir(d, -1); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	want := os.ModeDir | os.ModeSetgid | os.ModeSticky | 0o730
	if fi.Mode() != want {
		t.Errorf("mode = %v, want %v", fi.Mode(), want)
	}
	if err := MakeFifodir(d, -1); err != nil {
		t.Errorf("MakeFifodir on an existing fifodir: %v", err)
	}
}

func TestNotifyListen(t *testing.T) {
	d := filepath.Join(t.TempDir(), "event")
	if err := MakeFifodir(d, -1); err != nil {
		t.Fatal(err)
	}
	l1, err := ListenFifodir(d)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, err := ListenFifodir(d)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(l1.Path())
	if !strings.HasPrefix(base, FifodirPrefix) || len(base) != 39 {
		t.Errorf("listener name %q: want ftrig1:@<24 hex>:<6 chars> (39 bytes)", base)
	}
	n, err := NotifyFifodir(d, []byte("su"))
	if err != nil || n != 2 {
		t.Fatalf("NotifyFifodir = %d, %v; want 2 listeners", n, err)
	}
	buf := make([]byte, 8)
	got, err := l1.Read(buf, time.Now().Add(5*time.Second))
	if err != nil || string(buf[:got]) != "su" {
		t.Fatalf("Read = %q, %v", buf[:got], err)
	}
	if _, err := l1.Read(buf, time.Now().Add(50*time.Millisecond)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Read with nothing pending: %v, want ErrTimeout", err)
	}
	// A listener that vanished without unlinking (reader closed) is cleaned up.
	l2.r.Close()
	l2.w.Close()
	n, err = NotifyFifodir(d, []byte("d"))
	if err != nil || n != 1 {
		t.Fatalf("NotifyFifodir after a dead listener = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(l2.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dead listener FIFO not removed: %v", err)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := NotifyFifodir(d, []byte("x")); n != 0 {
		t.Errorf("after Close, NotifyFifodir reached %d listeners", n)
	}
}

func TestNotifyMissingDir(t *testing.T) {
	if _, err := NotifyFifodir(filepath.Join(t.TempDir(), "nope"), []byte("u")); err == nil {
		t.Error("NotifyFifodir on a missing dir: no error")
	}
}
