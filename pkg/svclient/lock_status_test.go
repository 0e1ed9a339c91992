package svclient

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/s6status"
	"golang.org/x/sys/unix"
)

func TestSupervised(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  bool
		err   bool
	}{
		{"no service dir", func(t *testing.T, dir string) { os.Remove(dir) }, false, false},
		{"no supervise dir", func(t *testing.T, dir string) {}, false, false},
		{"unlocked", func(t *testing.T, dir string) { touchLock(t, dir) }, false, false},
		{"posix lock in this process", func(t *testing.T, dir string) { lockIt(t, dir, unix.F_SETLK) }, true, false},
		{"ofd lock", func(t *testing.T, dir string) { lockIt(t, dir, unix.F_OFD_SETLK) }, true, false},
		{"service dir is a file", func(t *testing.T, dir string) {
			os.Remove(dir)
			os.WriteFile(dir, nil, 0o644)
		}, false, true},
		{"lock is a directory", func(t *testing.T, dir string) {
			os.MkdirAll(LockPath(dir), 0o700)
		}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "svc")
			os.Mkdir(dir, 0o755)
			tc.setup(t, dir)
			got, err := Supervised(dir)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("Supervised = %v, %v; want %v, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func touchLock(t *testing.T, dir string) string {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, SuperviseDir), 0o700)
	p := LockPath(dir)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lockIt(t *testing.T, dir string, cmd int) {
	t.Helper()
	p := touchLock(t, dir)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), cmd, &lk); err != nil {
		t.Fatal(err)
	}
}

func TestReadStatus(t *testing.T) {
	good := s6status.Status{Stamp: stamp(base, 1), ReadyStamp: stamp(base, 2), Pid: 42, WantUp: true}
	gb := good.Marshal()
	bad := gb
	bad[8], bad[9], bad[10], bad[11] = 0xff, 0xff, 0xff, 0xff
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		want    *s6status.Status
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
				unix.Mkfifo(s6status.Path(dir), 0o644)
			case "dir":
				os.Mkdir(s6status.Path(dir), 0o755)
			default:
				if tc.content != nil {
					os.WriteFile(s6status.Path(dir), tc.content, 0o644)
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
			if errors.Is(err, s6status.ErrCorrupt) != tc.corrupt {
				t.Errorf("err = %v, corrupt want %v", err, tc.corrupt)
			}
			if !strings.Contains(err.Error(), s6status.Path(dir)) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestNormallyUp(t *testing.T) {
	dir := t.TempDir()
	if up, err := NormallyUp(dir); !up || err != nil {
		t.Fatalf("no down file: %v %v", up, err)
	}
	os.WriteFile(filepath.Join(dir, "down"), nil, 0o644)
	if up, err := NormallyUp(dir); up || err != nil {
		t.Fatalf("down file: %v %v", up, err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := NormallyUp(f); err == nil {
		t.Fatal("service dir is a file: no error")
	}
}
