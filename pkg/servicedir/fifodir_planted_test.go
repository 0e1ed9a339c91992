package servicedir

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNotifyPlanted: a link or a regular file named like a listener in
// the fifodir gets nothing written, nor does what a link points to.
func TestNotifyPlanted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "event")
	if err := MakeFifodir(dir, -1); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, FifodirPrefix+"link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, FifodirPrefix+"file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := ListenFifodir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if n, err := NotifyFifodir(dir, []byte("u")); err != nil || n != 1 {
		t.Errorf("NotifyFifodir: %d listeners, %v; want 1 (the real one)", n, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("written through the link: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, FifodirPrefix+"file")); len(b) != 0 {
		t.Errorf("written to a regular file: %q", b)
	}
}
