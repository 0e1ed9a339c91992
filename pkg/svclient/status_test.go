package svclient

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNormallyUp(t *testing.T) {
	dir := t.TempDir()
	if up, err := NormallyUp(dir); !up || err != nil {
		t.Fatalf("no down file: %v %v", up, err)
	}
	os.WriteFile(filepath.Join(dir, "down"), nil, 0o644)
	if up, err := NormallyUp(dir); up || err != nil {
		t.Fatalf("down file: %v %v", up, err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := NormallyUp(f); err == nil {
		t.Fatal("service dir is a file: no error")
	}
}
