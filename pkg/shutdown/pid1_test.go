package shutdown

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/fifo"
	"golang.org/x/sys/unix"
)

// TestShutdownAsProcess1 runs the whole way down for real, on the host:
// svscan is process 1 of a new PID and mount namespace, chrooted into a
// tmpfs laid out like an image (the scandir-dot hooks, the svscan-log
// catch-all logger, /etc/svinit/shutdown), with its output on the
// catch-all FIFO as stage 1 leaves it. A service logs a line and runs
// poweroff, reboot or halt; the hooks run svinit-shutdown, svscan stops,
// svinit-final kills, unmounts and calls reboot(2), which ends the
// namespace: the kernel reports the command to the parent as the signal
// that killed process 1 (SIGINT: power-off or halt; SIGHUP: restart).
// Then the catch-all log, left on the tmpfs, must hold every line
// written before the request and by the shutdown hooks.
// Root only (CI runs as root).

const (
	envRole = "SVINIT_SHUTDOWN_TEST_ROLE"
	envRoot = "SVINIT_SHUTDOWN_TEST_ROOT"
	// consoleFD is where process 1 keeps the pipe to the test; the
	// image's /dev/console is a symbolic link to it.
	consoleFD = 100
	// timeoutMin bounds one shutdown (it takes about a second).
	timeoutMin = 2
)

func TestMain(m *testing.M) {
	if os.Getenv(envRole) == "init" {
		nsInit()
	}
	os.Exit(m.Run())
}

// nsInit does what stage 1 does before it execs svscan, in the test's
// namespace: mount /proc, put the catch-all FIFO on fds 1 and 2 without
// waiting for a reader, ignore SIGPIPE, exec svscan.
func nsInit() {
	fail := testutil.InitFail
	root := os.Getenv(envRoot)
	if err := testutil.PrivateMounts(); err != nil {
		fail("%v", err)
	}
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", 0, ""); err != nil {
		fail("mount proc: %v", err)
	}
	if err := unix.Dup3(3, consoleFD, 0); err != nil {
		fail("%v", err)
	}
	unix.Close(3)
	if err := testutil.Chroot(root); err != nil {
		fail("%v", err)
	}
	fd, err := fifo.OpenWriter("/run/service/svscan-log/fifo", unix.O_CLOEXEC, true)
	if err != nil {
		fail("%v", err)
	}
	unix.Dup3(fd, 1, 0)
	unix.Dup3(fd, 2, 0)
	unix.Close(fd)
	if null, err := unix.Open("/dev/null", unix.O_RDONLY, 0); err == nil {
		unix.Dup3(null, 0, 0)
	}
	err = unix.Exec("/bin/svscan", []string{"svscan", "/run/service"}, []string{"PATH=/bin"})
	fail("exec svscan: %v", err)
}

// copyDir copies the regular files of a template directory.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownAsProcess1(t *testing.T) {
	testutil.NeedRoot(t, "PID and mount namespaces, tmpfs")
	repo := testutil.Root(t)
	for _, tc := range []struct {
		action string
		sig    unix.Signal // how the kernel reports reboot(2)'s command
	}{
		{"poweroff", unix.SIGINT}, // POWER_OFF
		{"reboot", unix.SIGHUP},   // RESTART
		{"halt", unix.SIGINT},     // HALT
	} {
		t.Run(tc.action, func(t *testing.T) {
			// A tmpfs mounted on the host: the namespace gets a copy of the
			// mount, and the log written there is read back afterwards.
			root := testutil.TmpfsRoot(t, "128m")

			// Static binaries, as in an image.
			testutil.Build(t, filepath.Join(root, "bin"), []string{"CGO_ENABLED=0"},
				"github.com/u-root/u-root/cmds/core/echo",
				"./cmds/svscan", "./cmds/svlog", "./cmds/svwait", "./cmds/execlineb",
				"./cmds/svinit-shutdown", "./cmds/svinit-final", "./cmds/poweroff", "./cmds/reboot", "./cmds/halt")
			for _, d := range []string{"dev", "proc", "etc/svinit", "run/service"} {
				os.MkdirAll(filepath.Join(root, d), 0o755)
			}
			if err := unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(fmt.Sprintf("/proc/1/fd/%d", consoleFD), filepath.Join(root, "dev/console")); err != nil {
				t.Fatal(err)
			}
			scan := filepath.Join(root, "run/service")
			copyDir(t, filepath.Join(repo, "templates/scandir-dot"), filepath.Join(scan, ".s6-svscan"))
			copyDir(t, filepath.Join(repo, "templates/svscan-log"), filepath.Join(scan, "svscan-log"))
			if err := unix.Mkfifo(filepath.Join(scan, "svscan-log/fifo"), 0o600); err != nil {
				t.Fatal(err)
			}
			// A FIFO nobody writes to: opening it for reading blocks forever.
			if err := unix.Mkfifo(filepath.Join(root, "run/never"), 0o600); err != nil {
				t.Fatal(err)
			}
			writeExec(t, filepath.Join(scan, "chatty/run"), `#!/bin/execlineb -P
foreground { svwait -U -t 60000 /run/service/svscan-log }
foreground { echo "e2e: chatty up, asking for `+tc.action+`" }
foreground { `+tc.action+` }
redirfd -r 0 /run/never
echo "e2e: never"
`)
			writeExec(t, filepath.Join(scan, "chatty/finish"), "#!/bin/execlineb -P\necho \"e2e: chatty finish ran\"\n")
			writeExec(t, filepath.Join(root, "etc/svinit/shutdown"), "#!/bin/execlineb -S1\necho \"e2e: shutdown hook ran for\" $1\n")

			p := testutil.RunPID1(t, []string{envRole + "=init", envRoot + "=" + root}, time.Duration(timeoutMin)*time.Minute)
			console := p.Console
			if p.TimedOut {
				log, _ := os.ReadFile(filepath.Join(root, "run/uncaught-logs/current"))
				t.Logf("processes in the namespace's root:\n%s", chrooted(root))
				t.Fatalf("no shutdown after %d minutes; stderr %s; console:\n%s\ncatch-all log:\n%s", timeoutMin, p.Stderr, console, log)
			}
			if p.Signal() != tc.sig {
				log, _ := os.ReadFile(filepath.Join(root, "run/uncaught-logs/current"))
				t.Fatalf("process 1 ended with %v (%v), want killed by %v, the kernel's answer to reboot(2) for %s\nstderr: %s\nconsole:\n%s\ncatch-all log:\n%s",
					p.State, p.Err, tc.sig, tc.action, p.Stderr, console, log)
			}
			if !strings.Contains(string(console), "svinit-final: "+tc.action+": orderly shutdown took") {
				t.Errorf("console lacks the final stage's last line:\n%s", console)
			}
			logb, err := os.ReadFile(filepath.Join(root, "run/uncaught-logs/current"))
			if err != nil {
				t.Fatalf("catch-all log: %v\nconsole:\n%s", err, console)
			}
			log := string(logb)
			labelled := regexp.MustCompile(`^@[0-9a-f]{24} `)
			for _, l := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
				if !labelled.MatchString(l) {
					t.Errorf("catch-all log line without a TAI64N label: %q", l)
				}
			}
			// Written before the request, by the hook's command and by the
			// image's hook: all kept, in this order.
			rest := log
			for _, w := range []string{
				"e2e: chatty up, asking for " + tc.action,
				"svinit-shutdown: " + tc.action + " requested",
				"e2e: shutdown hook ran for " + tc.action,
			} {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("catch-all log lacks %q (in this order):\n%s\nconsole:\n%s", w, log, console)
					break
				}
				rest = rest[i+len(w):]
			}
			// A finish script runs after svscan was asked to stop and has
			// given its own stdout back to the console (so that the
			// catch-all logger can see EOF); svscan gives the script a copy
			// of the logger's FIFO, kept until every other service is down.
			if w := "e2e: chatty finish ran"; !strings.Contains(log, w) {
				t.Errorf("%q is not in the catch-all log:\n%s\nconsole:\n%s", w, log, console)
			}
			if strings.Contains(log, "e2e: never") {
				t.Errorf("the blocked service went on:\n%s", log)
			}

		})
	}
}

// chrooted lists the host's processes whose root directory is root:
// pid, state, what they wait in, command line.
func chrooted(root string) string {
	var b strings.Builder
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid := e.Name()
		if pid[0] < '0' || pid[0] > '9' {
			continue
		}
		if r, err := os.Readlink("/proc/" + pid + "/root"); err != nil || r != root {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + pid + "/stat")
		wchan, _ := os.ReadFile("/proc/" + pid + "/wchan")
		cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		state := ""
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) {
			state = string(stat[i+2 : i+3])
		}
		fmt.Fprintf(&b, "%s %s %s %q\n", pid, state, wchan, strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00"))
	}
	return b.String()
}
