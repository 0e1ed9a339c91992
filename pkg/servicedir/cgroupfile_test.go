package servicedir

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCgroupFile(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, SuperviseDir), 0o700)
	if _, err := ReadCgroup(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadCgroup without the file: %v, want ErrNotExist", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := WriteCgroupAt(fd, "/sys/fs/cgroup/svinit/foo:log"); err != nil {
		t.Fatal(err)
	}
	if p, err := ReadCgroup(dir); p != "/sys/fs/cgroup/svinit/foo:log" || err != nil {
		t.Errorf("ReadCgroup = %q, %v", p, err)
	}
	for _, bad := range []string{"relative\n", "/no/newline", ""} {
		os.WriteFile(filepath.Join(dir, CgroupFile), []byte(bad), 0o644)
		if _, err := ReadCgroup(dir); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ReadCgroup of %q: %v, want ErrCorrupt", bad, err)
		}
	}
	if err := RemoveCgroupFileAt(fd); err != nil {
		t.Fatal(err)
	}
	if err := RemoveCgroupFileAt(fd); err != nil {
		t.Errorf("removing it again: %v", err)
	}
	os.Mkdir(filepath.Join(dir, CgroupFile), 0o700)
	if _, err := ReadCgroup(dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ReadCgroup of a directory: %v, want ErrCorrupt", err)
	}
}
