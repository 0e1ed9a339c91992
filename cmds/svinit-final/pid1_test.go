package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"golang.org/x/sys/unix"
)

// The final stage for real: svinit-final runs as process 1 of a new PID
// and mount namespace, chrooted into a tmpfs of its own, with children
// to kill and file systems to unmount; reboot(2) there ends the
// namespace, and the kernel reports the command to the parent as the
// signal that killed its process 1 (SIGHUP for a restart, SIGINT for
// power-off and halt). Root only (CI runs as root).

// Roles the test binary plays inside the namespace (see TestMain).
const (
	envRole  = "SVINIT_FINAL_TEST_ROLE"
	envRoot  = "SVINIT_FINAL_TEST_ROOT"
	envFinal = "SVINIT_FINAL_TEST_ARGS"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case "init":
		nsInit()
	case "sleep":
		ready() // Go's default for SIGTERM: exit
		time.Sleep(time.Hour)
		os.Exit(0)
	case "stubborn":
		signal.Ignore(unix.SIGTERM)
		ready() // only now does it ignore TERM
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ready tells nsInit, through the pipe on fd 3, that this child has set
// itself up: nsInit waits for it before svinit-final may signal it (a
// stubborn child sent TERM before its signal.Ignore would just exit).
func ready() {
	f := os.NewFile(3, "ready")
	f.Write([]byte{1})
	f.Close()
}

// nsInit is process 1 of the test namespace: it mounts the test's file
// systems, starts the children named in the role list, chroots and
// execs svinit-final. Errors go to stderr with exit code 3.
func nsInit() {
	fail := testutil.InitFail
	root := os.Getenv(envRoot)
	// Nothing done here may reach the host's mounts.
	if err := testutil.PrivateMounts(); err != nil {
		fail("%v", err)
	}
	for _, m := range []struct{ fstype, target string }{
		{"proc", "/proc"},
		{"tmpfs", "/mnt/a"},
		{"tmpfs", "/mnt/a/b"},
		{"tmpfs", "/mnt/c"},
		{"tmpfs", "/mnt/d"},
	} {
		p := filepath.Join(root, m.target)
		if err := os.MkdirAll(p, 0o755); err != nil {
			fail("%v", err)
		}
		if err := unix.Mount(m.fstype, p, m.fstype, 0, ""); err != nil {
			fail("mount %s on %s: %v", m.fstype, p, err)
		}
	}
	// Process 1 keeps /mnt/c busy with a directory open for reading (it
	// can only be remounted read-only) and /mnt/d with a file open for
	// writing (it can be neither unmounted nor remounted read-only).
	if _, err := unix.Open(filepath.Join(root, "/mnt/c"), unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
		fail("%v", err)
	}
	if _, err := unix.Open(filepath.Join(root, "/mnt/d/file"), unix.O_WRONLY|unix.O_CREAT, 0o644); err != nil {
		fail("%v", err)
	}
	// The children, started from the host's file system before the
	// chroot: they keep none of the test's mounts busy.
	self, err := os.Executable()
	if err != nil {
		fail("%v", err)
	}
	for _, role := range strings.Fields(os.Getenv("SVINIT_FINAL_TEST_CHILDREN")) {
		r, w, err := os.Pipe()
		if err != nil {
			fail("%v", err)
		}
		p, err := os.StartProcess(self, []string{"child"}, &os.ProcAttr{
			Env: []string{envRole + "=" + role}, Dir: "/",
			Files: []*os.File{nil, nil, nil, w},
		})
		if err != nil {
			fail("start %s: %v", role, err)
		}
		w.Close()
		// Wait for the child to be set up (EOF: it died first).
		if n, err := r.Read(make([]byte, 1)); n != 1 {
			fail("child %s ended before it was ready: %v", role, err)
		}
		r.Close()
		p.Release()
	}
	if err := testutil.Chroot(root); err != nil {
		fail("%v", err)
	}
	argv := append([]string{"svinit-final"}, strings.Fields(os.Getenv(envFinal))...)
	err = unix.Exec("/bin/svinit-final", argv, []string{"PATH=/bin"})
	fail("exec svinit-final: %v", err)
}

func TestFinalAsProcess1(t *testing.T) {
	testutil.NeedRoot(t, "PID and mount namespaces, tmpfs")
	// Static, as in an image.
	bin := filepath.Join(t.TempDir(), "svinit-final")
	testutil.Build(t, filepath.Dir(bin), []string{"CGO_ENABLED=0"}, "./cmds/svinit-final")
	for _, tc := range []struct {
		name     string
		args     string // svinit-final's options
		record   string // /run/svinit/shutdown, "" for none
		children string // roles started before svinit-final
		sig      unix.Signal
		want     []string // in this order on the console
		dontWant []string
	}{
		{
			name:     "poweroff: the grace period ends as soon as everything is gone",
			args:     "-v -g 600000",
			record:   "poweroff\n",
			children: "sleep sleep sleep",
			sig:      unix.SIGINT,
			want: []string{"every process gone after",
				"/mnt/d: cannot unmount or remount read-only: device or resource busy",
				"remounted /mnt/c read-only",
				"unmounted /mnt/a/b", "unmounted /mnt/a", "unmounted /proc",
				// umount(2) of the process's root remounts it read-only
				"unmounted /\n",
				"file systems: 4 unmounted, 1 remounted read-only, 1 left as they were",
				"poweroff: orderly shutdown took"},
			dontWant: []string{"grace period", "sending KILL"},
		},
		{
			name:     "reboot: a process ignoring TERM is killed by the KILL child",
			args:     "-g 300",
			record:   "reboot\n",
			children: "stubborn sleep",
			sig:      unix.SIGHUP,
			want: []string{"processes left after the 300ms grace period; sending KILL",
				"file systems: 4 unmounted, 1 remounted read-only, 1 left as they were",
				"reboot: orderly shutdown took"},
			dontWant: []string{"sending KILL myself", "processes left after KILL", "every process gone"},
		},
		{
			name:     "halt from -a, nothing to kill",
			args:     "-a halt -g 600000",
			record:   "reboot\n",
			sig:      unix.SIGINT,
			want:     []string{"every process gone after", "halt: orderly shutdown took"},
			dontWant: []string{"sending KILL"},
		},
		{
			name:     "no record: reboot by default",
			args:     "-g 600000",
			children: "sleep",
			sig:      unix.SIGHUP,
			want:     []string{"no shutdown action recorded", "default: reboot", "every process gone after", "reboot: orderly shutdown took"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The root is a tmpfs mounted here, on the host: the namespace
			// gets a copy of the mount.
			root := testutil.TmpfsRoot(t, "64m")
			for _, d := range []string{"bin", "dev", "proc", "run/svinit", "mnt"} {
				os.MkdirAll(filepath.Join(root, d), 0o755)
			}
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "bin/svinit-final"), b, 0o755); err != nil {
				t.Fatal(err)
			}
			// The console is a pipe to the test, reached through process
			// 1's fd 3: a file on the tmpfs, open for writing, would keep
			// it from being remounted read-only.
			if err := os.Symlink("/proc/1/fd/3", filepath.Join(root, "dev/console")); err != nil {
				t.Fatal(err)
			}
			if tc.record != "" {
				os.WriteFile(filepath.Join(root, "run/svinit/shutdown"), []byte(tc.record), 0o644)
			}
			p := testutil.RunPID1(t, []string{envRole + "=init", envRoot + "=" + root, envFinal + "=" + tc.args,
				"SVINIT_FINAL_TEST_CHILDREN=" + tc.children}, 5*time.Minute)
			out := p.Console
			if p.TimedOut {
				t.Fatalf("svinit-final still running after 5 minutes; console:\n%s", out)
			}
			if p.Signal() != tc.sig {
				t.Fatalf("process 1 ended with %v (%v), want killed by %v, the kernel's answer to the right reboot(2) command\nstderr: %s\nconsole:\n%s",
					p.State, p.Err, tc.sig, p.Stderr, out)
			}
			rest := string(out)
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("console lacks %q (in this order):\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
			for _, w := range tc.dontWant {
				if strings.Contains(string(out), w) {
					t.Errorf("console holds %q:\n%s", w, out)
				}
			}
		})
	}
}
