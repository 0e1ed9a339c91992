package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoot(t *testing.T) {
	root := Root(t)
	if _, err := os.Stat(filepath.Join(root, "internal", "testutil", "build.go")); err != nil {
		t.Fatalf("Root = %s, not the repository's root: %v", root, err)
	}
}

func TestBuild(t *testing.T) {
	bin := Command(t, "svok")
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("Command(svok) = %s: %v %v", bin, fi, err)
	}
	err := GoBuild(t.TempDir(), nil, "./cmds/no-such-command")
	if err == nil || !strings.Contains(err.Error(), "no-such-command") {
		t.Errorf("building a missing package: %v, want an error naming it", err)
	}
}
