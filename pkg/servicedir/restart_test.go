package servicedir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

func TestRestartRoundTrip(t *testing.T) {
	next := tai64n.FromTime(time.Unix(1790000000, 7))
	for _, r := range []Restart{
		{},
		{Restarts: 7, Streak: 3, Delay: 3750 * time.Millisecond, Next: next},
		{Restarts: 1 << 31, Streak: 1, Delay: time.Minute, PermFail: true},
		{Restarts: 2, NoBackoff: true, Delay: 999 * time.Millisecond, Next: next},
	} {
		b := r.Marshal()
		got, err := UnmarshalRestart(b[:])
		if err != nil || got != r {
			t.Errorf("round trip of %+v: %+v, %v", r, got, err)
		}
		if got.Due() != (r.Next != tai64n.Stamp{}) {
			t.Errorf("%+v: Due %v", r, got.Due())
		}
	}
}

func TestRestartCorrupt(t *testing.T) {
	good := (&Restart{Restarts: 1}).Marshal()
	badVersion := good
	badVersion[0] = 2
	badStamp := good
	badStamp[21] = 0xff // nanoseconds out of range
	badStamp[22], badStamp[23], badStamp[24] = 0xff, 0xff, 0xff
	for name, b := range map[string][]byte{
		"short":   good[:RestartSize-1],
		"long":    append(good[:], 0),
		"version": badVersion[:],
		"stamp":   badStamp[:],
	} {
		if _, err := UnmarshalRestart(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestRestartFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, SuperviseDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRestart(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	want := Restart{Restarts: 3, Streak: 2, Delay: 2 * time.Second, Next: tai64n.Now()}
	if err := WriteRestartAt(fd, &want); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRestart(dir); err != nil || got != want {
		t.Errorf("read back %+v, %v, want %+v", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(dir, RestartFile+".new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s.new left behind: %v", RestartFile, err)
	}
	// A FIFO in its place is refused without blocking.
	p := filepath.Join(dir, RestartFile)
	os.Remove(p)
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRestart(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), p) {
		t.Errorf("FIFO: %v, want ErrCorrupt naming %s", err, p)
	}
}
