package servicedir

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReplacePlanted: whatever was left at name.new (a FIFO nobody
// reads, a link to another file, a directory) is replaced, never opened:
// no blocking, no write through the link.
func TestReplacePlanted(t *testing.T) {
	for _, kind := range []string{"fifo", "symlink", "directory"} {
		t.Run(kind, func(t *testing.T) {
			d := t.TempDir()
			target := filepath.Join(d, "target")
			if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(d, "f.new")
			switch kind {
			case "fifo":
				unix.Mkfifo(tmp, 0o644)
			case "symlink":
				os.Symlink(target, tmp)
			case "directory":
				os.Mkdir(tmp, 0o755)
			}
			fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := ReplaceAt(fd, "f", []byte("new")); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(filepath.Join(d, "f")); string(b) != "new" {
				t.Errorf("f = %q", b)
			}
			if b, _ := os.ReadFile(target); string(b) != "keep" {
				t.Errorf("the link's target was written: %q", b)
			}
		})
	}
}
