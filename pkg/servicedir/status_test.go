package servicedir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

func TestStatusRoundTrip(t *testing.T) {
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
			got, err := UnmarshalStatus(b[:])
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.s {
				t.Errorf("round trip: got %+v, want %+v", got, tc.s)
			}
		})
	}
}

func TestStatusWaitStatus(t *testing.T) {
	s := Status{Wstat: 3 << 8}
	if c, ok := s.Exited(); !ok || c != 3 {
		t.Errorf("Exited = %d %v", c, ok)
	}
	s.Wstat = uint16(syscall.SIGKILL)
	if sig, ok := s.Signaled(); !ok || sig != syscall.SIGKILL {
		t.Errorf("Signaled = %v %v", sig, ok)
	}
}

func TestStatusCorrupt(t *testing.T) {
	for _, b := range [][]byte{nil, make([]byte, 34), make([]byte, 36),
		append(append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff), make([]byte, 23)...)} {
		if _, err := UnmarshalStatus(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("UnmarshalStatus(%d bytes) err = %v, want ErrCorrupt", len(b), err)
		}
	}
}

func TestStatusReadWrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadStatus(dir); err == nil {
		t.Fatal("ReadStatus with no supervise dir: no error")
	}
	if err := os.Mkdir(filepath.Join(dir, SuperviseDir), 0o700); err != nil {
		t.Fatal(err)
	}
	s := Status{Pid: 42, WantUp: true}
	if err := WriteStatus(dir, &s); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStatus(dir)
	if err != nil || got != s {
		t.Fatalf("ReadStatus = %+v, %v", got, err)
	}
}

func FuzzUnmarshalStatus(f *testing.F) {
	s := Status{Pid: 7, WantUp: true}
	b := s.Marshal()
	f.Add(b[:])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := UnmarshalStatus(in)
		if err != nil {
			return
		}
		out := s.Marshal()
		s2, err := UnmarshalStatus(out[:])
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
	if err := WriteStatus(dir, &st); err != nil {
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
	if err := WriteStatus(dir, &st); err != nil {
		t.Fatalf("WriteStatus with the disk full: %v", err)
	}
	got, err := ReadStatus(dir)
	if err != nil || got.Pid != 4242 || !got.Ready {
		t.Fatalf("status after a write with the disk full: %+v, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "supervise", "status.new")); err == nil {
		t.Errorf("status.new left behind")
	}
}

func TestReadStatus(t *testing.T) {
	good := Status{Stamp: tai64n.FromTime(time.Unix(1795567603, 1)), ReadyStamp: tai64n.FromTime(time.Unix(1795567603, 2)), Pid: 42, WantUp: true}
	gb := good.Marshal()
	bad := gb
	bad[8], bad[9], bad[10], bad[11] = 0xff, 0xff, 0xff, 0xff
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		want    *Status
		corrupt bool
	}{
		{"good", gb[:], &good, false},
		{"longer, as s6 reads only 35 bytes", append(gb[:], "trailing"...), &good, false},
		{"truncated", gb[:20], nil, true},
		{"empty", []byte{}, nil, true},
		{"nanoseconds out of range", bad[:], nil, true},
		{"missing", nil, nil, false},
		{"fifo", []byte("fifo"), nil, true},
		{"directory", []byte("dir"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			os.Mkdir(filepath.Join(dir, SuperviseDir), 0o700)
			switch string(tc.content) {
			case "fifo":
				unix.Mkfifo(StatusPath(dir), 0o644)
			case "dir":
				os.Mkdir(StatusPath(dir), 0o755)
			default:
				if tc.content != nil {
					os.WriteFile(StatusPath(dir), tc.content, 0o644)
				}
			}
			st, err := ReadStatus(dir)
			if tc.want != nil {
				if err != nil || st != *tc.want {
					t.Fatalf("ReadStatus = %+v, %v", st, err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrCorrupt) != tc.corrupt {
				t.Errorf("err = %v, corrupt want %v", err, tc.corrupt)
			}
			if !strings.Contains(err.Error(), StatusPath(dir)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}
