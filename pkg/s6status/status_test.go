package s6status

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

func TestRoundTrip(t *testing.T) {
	now := tai64n.FromTime(time.Unix(1790000000, 5))
	for _, tc := range []struct {
		name  string
		s     Status
		flags byte
	}{
		{"zero", Status{}, 0},
		{"up ready", Status{Stamp: now, ReadyStamp: now, Pid: 32556, WantUp: true, Ready: true}, FlagWantUp | FlagReady},
		{"killed", Status{Stamp: now, Wstat: uint16(syscall.SIGTERM)}, 0},
		{"paused finishing", Status{Stamp: now, Pid: 1 << 40, Paused: true, Finishing: true}, FlagPaused | FlagFinishing},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.s.Marshal()
			if b[34] != tc.flags {
				t.Errorf("flags = %#x, want %#x", b[34], tc.flags)
			}
			got, err := Unmarshal(b[:])
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.s {
				t.Errorf("round trip: got %+v, want %+v", got, tc.s)
			}
		})
	}
}

func TestWaitStatus(t *testing.T) {
	s := Status{Wstat: 3 << 8}
	if c, ok := s.Exited(); !ok || c != 3 {
		t.Errorf("Exited = %d %v", c, ok)
	}
	s.Wstat = uint16(syscall.SIGKILL)
	if sig, ok := s.Signaled(); !ok || sig != syscall.SIGKILL {
		t.Errorf("Signaled = %v %v", sig, ok)
	}
}

func TestCorrupt(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 34), make([]byte, 36),
		append(append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff), make([]byte, 23)...)} {
		if _, err := Unmarshal(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Unmarshal(%d bytes) err = %v, want ErrCorrupt", len(b), err)
		}
	}
}

func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); err == nil {
		t.Fatal("Read with no supervise dir: no error")
	}
	if err := mkdirSupervise(dir); err != nil {
		t.Fatal(err)
	}
	s := Status{Pid: 42, WantUp: true}
	if err := Write(dir, &s); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil || got != s {
		t.Fatalf("Read = %+v, %v", got, err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	s := Status{Pid: 7, WantUp: true}
	b := s.Marshal()
	f.Add(b[:])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := Unmarshal(in)
		if err != nil {
			return
		}
		out := s.Marshal()
		s2, err := Unmarshal(out[:])
		if err != nil || s2 != s {
			t.Fatalf("re-decode: %+v %v", s2, err)
		}
	})
}

// TestWriteWhenDiskFull fills a small tmpfs (root: it mounts one) and
// checks that the status still changes: status.new cannot be written, so
// the file is overwritten in place.
func TestWriteWhenDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to mount a small tmpfs: run the tests as root")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatalf("cannot mount a tmpfs as root: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := os.Mkdir(filepath.Join(dir, "supervise"), 0o700); err != nil {
		t.Fatal(err)
	}
	st := Status{Pid: 1, WantUp: true}
	if err := Write(dir, &st); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	st = Status{Pid: 4242, WantUp: true, Ready: true}
	if err := Write(dir, &st); err != nil {
		t.Fatalf("Write with the disk full: %v", err)
	}
	got, err := Read(dir)
	if err != nil || got.Pid != 4242 || !got.Ready {
		t.Fatalf("status after a write with the disk full: %+v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "supervise", "status.new")); err == nil {
		t.Errorf("status.new left behind")
	}
}
