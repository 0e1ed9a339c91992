package cpio

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostFiles: a host tree is added by reference (modes, links and
// sizes now, contents when written); the written archive holds the
// contents, and a file whose size changed in between is an error.
func TestHostFiles(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"d/a": "alpha\n", "b": "bravo bravo\n"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o664); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("d/a", filepath.Join(src, "l")); err != nil {
		t.Fatal(err)
	}
	a := NewArchive()
	if err := a.AddTree(src, "opt/t", "p"); err != nil {
		t.Fatal(err)
	}
	e, ok := a.Get("opt/t/d/a")
	if !ok || e.Host != filepath.Join(src, "d/a") || e.Data != nil || e.Size() != 6 || e.Mode != TypeRegular|0o644 {
		t.Fatalf("opt/t/d/a: %+v", e)
	}
	if e, _ := a.Get("opt/t/d"); e == nil || e.Mode != TypeDir|0o750 {
		t.Errorf("opt/t/d: %+v", e)
	}
	if e, _ := a.Get("opt/t/l"); e == nil || e.Link != "d/a" {
		t.Errorf("opt/t/l: %+v", e)
	}
	var b bytes.Buffer
	if err := a.WriteCPIO(&b, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	es, err := ReadCPIO(&b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.Name] = string(e.Data)
	}
	if got["opt/t/d/a"] != "alpha\n" || got["opt/t/b"] != "bravo bravo\n" {
		t.Errorf("contents written: %q", got)
	}
	for _, change := range []string{"longer than it was\n", "x"} {
		if err := os.WriteFile(filepath.Join(src, "b"), []byte(change), 0o644); err != nil {
			t.Fatal(err)
		}
		err := a.WriteCPIO(&bytes.Buffer{}, WriteOptions{})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(src, "b")+": changed while the image was made") {
			t.Errorf("%d bytes instead of 12: error %v", len(change), err)
		}
	}
	os.Remove(filepath.Join(src, "b"))
	if err := a.WriteCPIO(&bytes.Buffer{}, WriteOptions{}); err == nil || !os.IsNotExist(err) {
		t.Errorf("removed file: error %v", err)
	}
	// A clone is independent of its original.
	c := a.Clone()
	if err := c.File("new", 0o644, nil, "p"); err != nil {
		t.Fatal(err)
	}
	if ce, _ := c.Get("opt/t/d"); ce == nil {
		t.Fatal("clone lacks opt/t/d")
	} else {
		ce.Mode = TypeDir | 0o700
	}
	if _, ok := a.Get("new"); ok || a.Len() != c.Len()-1 {
		t.Error("adding to the clone added to the original")
	}
	if e, _ := a.Get("opt/t/d"); e.Mode != TypeDir|0o750 {
		t.Error("changing the clone's entry changed the original's")
	}
}
