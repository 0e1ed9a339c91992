package servicedir

import (
	"os"
	"path/filepath"
	"testing"

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
