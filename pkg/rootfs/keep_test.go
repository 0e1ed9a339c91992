package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/tai64n"
)

func TestCopyLogDir(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		earlier string // the disk's current from an earlier boot
		archive bool   // it is archived first
	}{
		{"fresh", "", false},
		{"earlier boot", "@4000 earlier boot's line\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := t.TempDir(), t.TempDir()
			files := map[string]string{
				"@400000006900000000000000.s": "@4000 first line\n",
				"current":                     "@4000 second line\n",
				"state":                       "",
				"lock":                        "",
			}
			for n, c := range files {
				if err := os.WriteFile(filepath.Join(from, n), []byte(c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.earlier != "" {
				if err := os.WriteFile(filepath.Join(to, "current"), []byte(tc.earlier), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n, err := CopyLogDir(from, to, now)
			if err != nil || n != 3 {
				t.Fatalf("CopyLogDir: %d files, %v; want 3", n, err)
			}
			for name, want := range files {
				b, err := os.ReadFile(filepath.Join(to, name))
				if name == "lock" {
					if err == nil {
						t.Errorf("the lock was copied")
					}
					continue
				}
				if err != nil || string(b) != want {
					t.Errorf("%s: %q, %v; want %q", name, b, err, want)
				}
			}
			arch := filepath.Join(to, tai64n.FromTime(now).Label()+".s")
			b, err := os.ReadFile(arch)
			if tc.archive && (err != nil || string(b) != tc.earlier) {
				t.Errorf("the earlier boot's current, archived: %q, %v", b, err)
			}
			if !tc.archive && err == nil {
				t.Errorf("an archive %s was made with no earlier current", arch)
			}
		})
	}
}

func TestCheckKeep(t *testing.T) {
	root := t.TempDir()
	err := CheckKeep(root)
	if err == nil || !strings.Contains(err.Error(), "/run/") || !strings.Contains(err.Error(), "/bin/svlog") {
		t.Fatalf("CheckKeep on an empty root: %v; want /run/ and /bin/svlog named", err)
	}
	for _, m := range bootfs.SwitchMounts {
		if err := os.MkdirAll(filepath.Join(root, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range bootfs.KeepPrograms {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckKeep(root); err != nil {
		t.Errorf("CheckKeep on a complete root: %v", err)
	}
}

func TestWaitRoot(t *testing.T) {
	root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	if err := waitRoot(root, os.Getpid(), time.Second); err != nil {
		t.Errorf("waitRoot on our own root: %v", err)
	}
	other, err := unix.Open(t.TempDir(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(other)
	if err := waitRoot(other, os.Getpid(), 20*time.Millisecond); err == nil {
		t.Errorf("waitRoot on a directory that is nobody's root: no error")
	}
}
