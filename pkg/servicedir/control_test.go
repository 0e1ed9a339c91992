package servicedir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWriteControl(t *testing.T) {
	type setup func(t *testing.T, dir string) (reader *os.File)
	mkSup := func(t *testing.T, dir string) {
		if err := os.MkdirAll(filepath.Join(dir, SuperviseDir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mkFifo := func(t *testing.T, dir string) {
		mkSup(t, dir)
		if err := unix.Mkfifo(filepath.Join(dir, SuperviseDir, "control"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup setup
		kind  error // nil: success when want == "", else a system error
		sys   bool
	}{
		{"listening", func(t *testing.T, dir string) *os.File {
			mkFifo(t, dir)
			f, err := os.OpenFile(filepath.Join(dir, SuperviseDir, "control"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, nil, false},
		{"no reader", func(t *testing.T, dir string) *os.File { mkFifo(t, dir); return nil }, ErrNotListening, false},
		{"no supervise dir", func(t *testing.T, dir string) *os.File { return nil }, ErrNotListening, false},
		{"no control", func(t *testing.T, dir string) *os.File { mkSup(t, dir); return nil }, ErrBadControlDir, false},
		{"control is a file", func(t *testing.T, dir string) *os.File {
			mkSup(t, dir)
			os.WriteFile(filepath.Join(dir, SuperviseDir, "control"), nil, 0o600)
			return nil
		}, ErrBadControlDir, false},
		{"supervise is a file", func(t *testing.T, dir string) *os.File {
			os.WriteFile(filepath.Join(dir, SuperviseDir), nil, 0o600)
			return nil
		}, ErrBadControlDir, false},
		{"no service dir", func(t *testing.T, dir string) *os.File { os.Remove(dir); return nil }, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "svc")
			os.Mkdir(dir, 0o755)
			r := tc.setup(t, dir)
			err := WriteControl(dir, SuperviseDir, []byte("ud"))
			switch {
			case tc.kind != nil:
				if !errors.Is(err, tc.kind) {
					t.Fatalf("err = %v, want %v", err, tc.kind)
				}
			case tc.sys:
				var ce *ControlError
				if err == nil || !errors.As(err, &ce) || ce.Kind != nil {
					t.Fatalf("err = %#v, want a system error", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 8)
				n, err := r.Read(buf)
				if err != nil || string(buf[:n]) != "ud" {
					t.Fatalf("read %q, %v", buf[:n], err)
				}
			}
			if err != nil && !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not name %s", err, dir)
			}
			if r != nil {
				r.Close()
			}
		})
	}
}

func TestWriteControlEmptyName(t *testing.T) {
	if err := WriteControl("", SuperviseDir, []byte("u")); err == nil {
		t.Fatal("no error for an empty directory name")
	}
}

func TestControlCloseTwice(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, SuperviseDir), 0o700)
	p := filepath.Join(dir, SuperviseDir, "control")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := OpenControl(dir, SuperviseDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A descriptor opened now may reuse the number: a second Close
	// must not close it.
	other, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Readdirnames(1); err != nil {
		t.Fatalf("second Close closed someone else's descriptor: %v", err)
	}
	if err := c.Write([]byte("u")); err == nil {
		t.Fatal("Write after Close: no error")
	}
}
