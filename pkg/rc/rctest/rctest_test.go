package rctest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	root := t.TempDir()
	if err := Write(root, map[string]string{"a/type": "longrun\n", "a/run": "#!/bin/sh\n", "a/data": "/"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"a/type": 0o644, "a/run": 0o755, "a/data": os.ModeDir | 0o755} {
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, want)
		}
	}
}

func TestShapes(t *testing.T) {
	l := Layered("R")
	// 200 longruns of 3 files and a bundle entry each, 90 x 10
	// dependencies, and the bundle's type.
	if len(l) != 200*4+900+1 || l["l5-3/run"] != "R" || l["all/contents.d/free-99"] != "" {
		t.Errorf("Layered: %d files", len(l))
	}
	if _, ok := l["l5-3/dependencies.d/l4-9"]; !ok {
		t.Error("Layered: l5-3 does not depend on l4-9")
	}
	c := Chains(1000, "R")
	if len(c) != 500*2+500*3+990+1000+1 || c["s0001/run"] != "R" || c["s0000/up"] != "true\n" {
		t.Errorf("Chains: %d files", len(c))
	}
	if _, ok := c["s0999/dependencies.d/s0989"]; !ok {
		t.Error("Chains: s0999 does not depend on s0989")
	}
}
