package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveContents deletes a tree with every kind of entry, by one
// worker and by several: nothing is left, and Freed counts the data of
// the regular files.
func TestRemoveContents(t *testing.T) {
	for _, workers := range []int{1, 3, 0} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			root := t.TempDir()
			var want int64
			files := 0
			for d := range 5 {
				dir := filepath.Join(root, fmt.Sprint("d", d), "deeper", "deepest")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				files += 3
				for i := range 40 {
					size := 100*d + i
					p := filepath.Join(dir, fmt.Sprint("f", i))
					if i%2 == 0 {
						p = filepath.Join(root, fmt.Sprint("d", d), fmt.Sprint("f", i))
					}
					if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
						t.Fatal(err)
					}
					want += int64(size)
					files++
				}
			}
			// A symbolic link, a FIFO, an empty directory.
			if err := os.Symlink("d0", filepath.Join(root, "link")); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(root, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
			files += 3
			dir, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(dir)
			var st unix.Stat_t
			if err := unix.Fstat(dir, &st); err != nil {
				t.Fatal(err)
			}
			got := RemoveContents(dir, uint64(st.Dev), workers)
			left, err := os.ReadDir(root)
			if err != nil || len(left) != 0 {
				t.Errorf("left %v (%v)", left, err)
			}
			if got.Files != files || got.Freed != want {
				t.Errorf("deleted %d entries, %d bytes; want %d, %d", got.Files, got.Freed, files, want)
			}
		})
	}
}

// TestRemoveContentsOtherDevice: a directory on another device than
// the one given is neither entered nor deleted.
func TestRemoveContentsOtherDevice(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/b", "c"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "a/b/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		t.Fatal(err)
	}
	// Every subdirectory looks foreign when the device is another one.
	got := RemoveContents(dir, uint64(st.Dev)+1, 0)
	if got.Files != 0 {
		t.Errorf("deleted %d entries on another device", got.Files)
	}
	if _, err := os.Stat(filepath.Join(root, "a/b/f")); err != nil {
		t.Errorf("a file under another device was deleted: %v", err)
	}
}
