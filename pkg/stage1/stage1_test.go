package stage1

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

type mountCall struct{ Source, Target, FSType, Data string }

// fakeRoot returns a Stage1 on a temporary root whose Mount records its
// calls and answers from errs (keyed by image path).
func fakeRoot(t *testing.T, errs map[string]error) (*Stage1, *[]mountCall, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	var calls []mountCall
	var out bytes.Buffer
	s := &Stage1{Root: root, Console: &out, Cmdline: bootfs.Cmdline{GraceMS: -1, Debug: true}}
	s.Sys = Sys{
		Mount: func(source, target, fstype string, flags uintptr, data string) error {
			rel := "/" + strings.TrimPrefix(strings.TrimPrefix(target, root), "/")
			calls = append(calls, mountCall{source, rel, fstype, data})
			return errs[rel]
		},
		Mknod: func(path string, mode uint32, dev int) error {
			// A regular file stands in for the device node.
			return os.WriteFile(path, nil, 0o600)
		},
		Sethostname: func([]byte) error { return errors.New("unexpected sethostname") },
		Dup2:        func(int, int) error { return nil },
	}
	return s, &calls, &out
}

func targets(calls []mountCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.FSType+":"+c.Target)
	}
	return out
}

func TestMountAll(t *testing.T) {
	all := []string{"proc:/proc", "sysfs:/sys", "devtmpfs:/dev", "devpts:/dev/pts", "tmpfs:/dev/shm", "tmpfs:/run", "cgroup2:/sys/fs/cgroup"}
	for _, tc := range []struct {
		name    string
		mounts  string // the fake root's /proc/mounts ("" = none)
		errs    map[string]error
		want    []string
		wantErr string
	}{
		{name: "fresh", want: all},
		{name: "busy", errs: map[string]error{"/dev": unix.EBUSY, "/proc": unix.EBUSY}, want: all},
		{name: "no cgroup2", errs: map[string]error{"/sys/fs/cgroup": unix.ENODEV}, want: all},
		{name: "no cgroup2 dir", errs: map[string]error{"/sys/fs/cgroup": unix.ENOENT}, want: all},
		{name: "sysfs fails", errs: map[string]error{"/sys": unix.EPERM}, want: all, wantErr: "mount sysfs on /sys: operation not permitted"},
		{
			name:   "some already mounted",
			mounts: "rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n",
			want:   []string{"sysfs:/sys", "devpts:/dev/pts", "tmpfs:/dev/shm", "cgroup2:/sys/fs/cgroup"},
		},
		{
			// Same mount point, another type: mount over it.
			name:   "other type",
			mounts: "none /run ramfs rw 0 0\n",
			want:   all,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, calls, out := fakeRoot(t, tc.errs)
			if tc.mounts != "" {
				os.MkdirAll(s.P("/proc"), 0o755)
				os.WriteFile(s.P("/proc/mounts"), []byte(tc.mounts), 0o644)
			}
			err := s.MountAll()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("MountAll: %v, want %q", err, tc.wantErr)
			}
			if got := targets(*calls); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("mounted %q, want %q\n%s", got, tc.want, out)
			}
			for _, c := range *calls {
				if fi, err := os.Stat(s.P(c.Target)); err != nil || !fi.IsDir() {
					t.Errorf("mount point %s not created: %v", c.Target, err)
				}
				if c.Target == "/run" && c.Data != "mode=0755" {
					t.Errorf("/run mounted with %q, want mode=0755", c.Data)
				}
			}
		})
	}
}

func TestSetupConsole(t *testing.T) {
	s, _, _ := fakeRoot(t, nil)
	os.MkdirAll(s.P("/dev"), 0o755)
	var made []string
	var dups []int
	mknod := s.Sys.Mknod
	s.Sys.Mknod = func(p string, mode uint32, dev int) error {
		made = append(made, fmt.Sprintf("%s %o %d:%d", strings.TrimPrefix(p, s.Root), mode, unix.Major(uint64(dev)), unix.Minor(uint64(dev))))
		return mknod(p, mode, dev)
	}
	s.Sys.Dup2 = func(o, n int) error { dups = append(dups, n); return nil }
	f, err := s.SetupConsole()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if want := []string{"/dev/console 20600 5:1"}; !reflect.DeepEqual(made, want) {
		t.Errorf("mknod %q, want %q", made, want)
	}
	if !reflect.DeepEqual(dups, []int{0, 1, 2}) {
		t.Errorf("dup2 onto %v, want [0 1 2]", dups)
	}
	// Existing console: no mknod.
	made = nil
	f2, err := s.SetupConsole()
	if err != nil || len(made) != 0 {
		t.Fatalf("second SetupConsole: %v, mknod %q", err, made)
	}
	f2.Close()
}

func TestHostname(t *testing.T) {
	for _, tc := range []struct {
		name, file, cmdline, want, wantErr string
	}{
		{name: "none"},
		{name: "file", file: "box\n# comment\n", want: "box"},
		{name: "file blank", file: "  \n"},
		{name: "cmdline wins", file: "box\n", cmdline: "kern", want: "kern"},
		{name: "bad file", file: "a b\n", wantErr: "/etc/hostname: host name \"a b\" contains a blank, a slash or a control character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := fakeRoot(t, nil)
			var got string
			s.Sys.Sethostname = func(b []byte) error { got = string(b); return nil }
			s.Cmdline.Hostname = tc.cmdline
			if tc.file != "" {
				os.MkdirAll(s.P("/etc"), 0o755)
				os.WriteFile(s.P("/etc/hostname"), []byte(tc.file), 0o644)
			}
			err := s.Hostname()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
				t.Fatalf("Hostname: %v, want %q", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("host name %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCopyScandir(t *testing.T) {
	s, _, out := fakeRoot(t, nil)
	seed := s.P(bootfs.SeedScandir)
	mk := func(p string, mode os.FileMode, data string) {
		t.Helper()
		p = filepath.Join(seed, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("svscan-log/run", 0o755, "#!/bin/execlineb -P\nsvlog\n")
	mk("svscan-log/notification-fd", 0o644, "3\n")
	mk(".s6-svscan/SIGUSR1", 0o755, "x")
	mk(".s6-svscan/finish", 0o755, "y")
	mk("udev/run", os.ModeSetuid|0o750, "z")
	os.Mkdir(filepath.Join(seed, "udev/data"), 0o700)
	chmod(filepath.Join(seed, "udev/data"), 0o770|os.ModeSticky)
	os.Symlink("../svscan-log", filepath.Join(seed, "early-getty"))
	unix.Mkfifo(filepath.Join(seed, "udev/fifo"), 0o620)
	chmod(filepath.Join(seed, "udev/fifo"), 0o620)

	if err := s.CopyScandir(); err != nil {
		t.Fatal(err)
	}
	dst := s.P(bootfs.Scandir)
	check := func(p string, want os.FileMode) {
		t.Helper()
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
		if fi.Mode().IsRegular() {
			a, _ := os.ReadFile(filepath.Join(seed, p))
			b, _ := os.ReadFile(filepath.Join(dst, p))
			if !bytes.Equal(a, b) {
				t.Errorf("%s: content %q, want %q", p, b, a)
			}
		}
	}
	check("svscan-log/run", 0o755)
	check("svscan-log/notification-fd", 0o644)
	check(".s6-svscan/SIGUSR1", 0o755)
	check(".s6-svscan/finish", 0o755)
	check("udev/run", 0o750|os.ModeSetuid)
	check("udev/data", os.ModeDir|os.ModeSticky|0o770)
	check("udev/fifo", os.ModeNamedPipe|0o620)
	check("early-getty", os.ModeSymlink|0o777)
	if l, _ := os.Readlink(filepath.Join(dst, "early-getty")); l != "../svscan-log" {
		t.Errorf("symlink points to %q", l)
	}
	if out.Len() != 0 {
		t.Errorf("messages: %s", out)
	}
	if !s.HaveLogger() {
		t.Error("HaveLogger false after copying svscan-log/run")
	}
	// A second copy over the first works (stage 1 run twice).
	if err := s.CopyScandir(); err != nil {
		t.Fatal(err)
	}
}

func TestCopyScandirMissingSeed(t *testing.T) {
	s, _, out := fakeRoot(t, nil)
	if err := s.CopyScandir(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(s.P(bootfs.Scandir)); err != nil || !fi.IsDir() {
		t.Fatalf("scan dir not created: %v", err)
	}
	if !strings.Contains(out.String(), "missing") || s.HaveLogger() {
		t.Errorf("message %q, HaveLogger %v", out, s.HaveLogger())
	}
}

func TestMakeFIFO(t *testing.T) {
	s, _, _ := fakeRoot(t, nil)
	os.MkdirAll(s.P(bootfs.LoggerService), 0o755)
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	for i, prep := range []func(string){
		func(string) {},
		func(p string) { os.Remove(p); os.WriteFile(p, []byte("stale"), 0o644) },
		func(p string) { os.Remove(p); unix.Mkfifo(p, 0o644) },
	} {
		p := s.P(bootfs.LoggerFIFO)
		prep(p)
		if err := s.MakeFIFO(); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode() != os.ModeNamedPipe|0o600 {
			t.Fatalf("case %d: %v %v, want a FIFO mode 0600", i, fi.Mode(), err)
		}
	}
}

func TestBaseEnv(t *testing.T) {
	got := BaseEnv([]string{"HOME=/", "PATH=/usr/bin", EnvStage2 + "=1", EnvStage2FIFO + "=/x", "svinit.grace=5", "TERM=linux"})
	want := []string{"HOME=/", "TERM=linux", "PATH=" + bootfs.DefaultPath}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
