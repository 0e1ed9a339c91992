package rootfs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The switch runs in a child of the test binary, as root, in a mount
// namespace of its own, chrooted into a tmpfs laid out as an initramfs:
// a switch cannot be undone, so each case gets a fresh process.
const envSwitchCase = "ROOTFS_SWITCH_CASE"

type switchCase struct {
	name    string
	init    string // written as /sysroot/sbin/init when not ""
	mountNR bool   // /sysroot is a mounted file system
	want    string // "" = success; else part of the error
}

var switchCases = []switchCase{
	{"Switch", "#!/bin/sh\n", true, ""},
	{"NoInit", "", true, "/sbin/init in the new root /sysroot"},
	{"NotMounted", "#!/bin/sh\n", false, "is not a mounted file system"},
}

func TestSwitch(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("TestSwitch needs root (mount namespaces, tmpfs, chroot); CI runs as root")
	}
	for _, tc := range switchCases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSwitchChild$", "-test.v")
			cmd.Env = append(os.Environ(), envSwitchCase+"="+tc.name, "ROOTFS_SWITCH_DIR="+t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "switch child: ok") {
				t.Errorf("child: %v\n%s", err, out)
			}
		})
	}
}

// TestSwitchChild is the child's side; it does nothing in a normal run.
func TestSwitchChild(t *testing.T) {
	name := os.Getenv(envSwitchCase)
	if name == "" {
		return
	}
	i := slices.IndexFunc(switchCases, func(c switchCase) bool { return c.name == name })
	tc := switchCases[i]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""))
	old := filepath.Join(os.Getenv("ROOTFS_SWITCH_DIR"), "old")
	must(os.Mkdir(old, 0o755))
	must(unix.Mount("tmpfs", old, "tmpfs", 0, ""))
	for _, d := range []string{"bin", "etc/deep/er", "keep", "dev", "proc", "sys", "run", "sysroot"} {
		must(os.MkdirAll(filepath.Join(old, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(old, "bin/prog"), make([]byte, 1000), 0o755))
	must(os.WriteFile(filepath.Join(old, "etc/deep/er/file"), make([]byte, 24), 0o644))
	must(os.Symlink("prog", filepath.Join(old, "bin/link")))
	// keep: another file system inside the initramfs, never crossed.
	must(unix.Mount("tmpfs", filepath.Join(old, "keep"), "tmpfs", 0, ""))
	must(os.WriteFile(filepath.Join(old, "keep/stays"), []byte("x"), 0o644))
	for _, m := range []string{"dev", "run", "proc"} {
		must(unix.Mount("tmpfs", filepath.Join(old, m), "tmpfs", 0, ""))
	}
	must(os.WriteFile(filepath.Join(old, "run/marker"), []byte("moved"), 0o644))
	nr := filepath.Join(old, "sysroot")
	if tc.mountNR {
		must(unix.Mount("tmpfs", nr, "tmpfs", 0, ""))
	}
	for _, d := range []string{"sbin", "dev", "run", "sys"} { // no proc: detached
		must(os.MkdirAll(filepath.Join(nr, d), 0o755))
	}
	if tc.init != "" {
		must(os.WriteFile(filepath.Join(nr, "sbin/init"), []byte(tc.init), 0o755))
	}
	must(unix.Chdir(old))
	must(unix.Chroot("."))
	oldFd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(err)

	stats, err := Switch("/sysroot", "/sbin/init")
	if tc.want != "" {
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("Switch: %v, want an error with %q", err, tc.want)
		}
		// Nothing touched.
		if _, err := os.Stat("/bin/prog"); err != nil {
			t.Fatalf("after a refused switch: %v", err)
		}
		fmt.Println("switch child: ok")
		return
	}
	must(err)
	if fmt.Sprint(stats.Moved) != "[/dev /run]" || fmt.Sprint(stats.Detached) != "[/proc]" {
		t.Errorf("moved %v, detached %v; want [/dev /run], [/proc]", stats.Moved, stats.Detached)
	}
	if stats.Freed != 1024 || stats.Files < 9 {
		t.Errorf("freed %d bytes in %d files, want 1024 bytes and at least 9 entries", stats.Freed, stats.Files)
	}
	if b, err := os.ReadFile("/run/marker"); err != nil || string(b) != "moved" {
		t.Errorf("/run in the new root: %q, %v", b, err)
	}
	if _, err := os.Stat("/sbin/init"); err != nil {
		t.Errorf("/ is not the new root: %v", err)
	}
	left, _ := os.NewFile(uintptr(oldFd), "old").Readdirnames(-1)
	if fmt.Sprint(left) != "[keep]" {
		t.Errorf("the old root still holds %v, want only the mount point keep", left)
	}
	var pst unix.Stat_t
	if err := unix.Fstatat(oldFd, "keep/stays", &pst, 0); err != nil {
		t.Errorf("a file under another mount was deleted: %v", err)
	}
	if !t.Failed() {
		fmt.Println("switch child: ok")
	}
}
