package fifo

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOpenWriterWithoutReader(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	// A plain non-blocking open fails with ENXIO: the trick is needed.
	if _, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK, 0); err != unix.ENXIO {
		t.Fatalf("plain open: %v, want ENXIO", err)
	}
	done := make(chan error, 1)
	var fd int
	go func() {
		var err error
		fd, err = OpenWriter(p, unix.O_CLOEXEC, true)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenWriter blocked without a reader")
	}
	defer unix.Close(fd)
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Fatalf("flags %#x, %v: want blocking", fl, err)
	}
	// A reader that appears later gets what is written after it opens.
	r, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(r)
	if _, err := unix.Write(fd, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	n, err := unix.Read(r, buf)
	if err != nil || string(buf[:n]) != "hello\n" {
		t.Fatalf("read %q, %v", buf[:n], err)
	}
}

func TestOpenWriterMissing(t *testing.T) {
	if _, err := OpenWriter(filepath.Join(t.TempDir(), "none"), 0, false); err == nil {
		t.Fatal("no error for a missing FIFO")
	}
}
