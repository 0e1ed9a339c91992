package main_test

// Host supervision tests: the real svscan binary (built from this
// directory) on a temporary scan directory with real services, driven
// through its on-disk interface.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/servicedir"
)

var svscanBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "svscan-test")
	if err != nil {
		panic(err)
	}
	svscanBin = filepath.Join(dir, "svscan")
	if err := testutil.GoBuild(dir, nil, "./cmds/svscan"); err != nil {
		fmt.Fprintf(os.Stderr, "building svscan: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// outFile collects svscan's output in a file, not a pipe: services
// inherit it, and a pipe would keep exec.Cmd.Wait waiting for them.
type outFile struct{ f *os.File }

func (o *outFile) String() string {
	b, _ := os.ReadFile(o.f.Name())
	return string(b)
}

type scan struct {
	t      *testing.T
	dir    string
	cmd    *exec.Cmd
	out    *outFile
	done   chan error
	exited bool
	// timeout bounds each wait (default 30 s).
	timeout time.Duration
}

// service writes a service directory; files ending in "run" or "finish"
// are made executable unless named "*.noexec".
func service(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		base := filepath.Base(name)
		if base == "run" || base == "finish" || strings.HasPrefix(filepath.Dir(name), ".s6-svscan") {
			mode = 0o755
		}
		if strings.HasSuffix(name, ".noexec") {
			p = strings.TrimSuffix(p, ".noexec")
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func startScan(t *testing.T, dir string, args ...string) *scan {
	t.Helper()
	return launch(t, dir, exec.Command(svscanBin, append(args, dir)...))
}

// launch starts cmd, an svscan on dir (perhaps behind prlimit or
// unshare), in a process group of its own, its output in a file; at the
// end of the test it is told to quit (q), then its group is killed.
func launch(t *testing.T, dir string, cmd *exec.Cmd) *scan {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "svscan.out"))
	if err != nil {
		t.Fatal(err)
	}
	s := &scan{t: t, dir: dir, out: &outFile{f}, done: make(chan error, 1), cmd: cmd}
	s.cmd.Stdout = f
	s.cmd.Stderr = f
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.exited {
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			return
		}
		select {
		case <-s.done:
		default:
			s.control("q")
			select {
			case <-s.done:
			case <-time.After(20 * time.Second):
				t.Errorf("svscan did not exit on q; output:\n%s", s.out)
				s.cmd.Process.Kill()
			}
		}
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // stragglers
	})
	return s
}

func (s *scan) control(letters string) {
	s.t.Helper()
	f, err := os.OpenFile(filepath.Join(s.dir, ".s6-svscan", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		s.t.Fatalf("svscanctl: %v", err)
	}
	defer f.Close()
	f.WriteString(letters)
}

// waitFor polls cond (status files are plain files: there is nothing to
// subscribe to before a service is supervised) until it holds.
func (s *scan) waitFor(what string, cond func() bool) {
	s.t.Helper()
	testutil.WaitFor(s.t, what, s.wait(), cond, func() string { return "svscan output:\n" + s.out.String() })
}

func (s *scan) wait() time.Duration {
	if s.timeout > 0 {
		return s.timeout
	}
	return 30 * time.Second
}

func status(dir string) (servicedir.Status, bool) {
	st, err := servicedir.ReadStatus(dir)
	return st, err == nil
}

func isUp(dir string) func() bool {
	return func() bool { st, ok := status(dir); return ok && st.Up() }
}

func isDown(dir string) func() bool {
	return func() bool { st, ok := status(dir); return ok && !st.Up() && !st.Finishing && st.Ready }
}

func (s *scan) waitExit() {
	s.t.Helper()
	select {
	case <-s.done:
		s.exited = true
	case <-time.After(s.wait()):
		s.t.Fatalf("svscan did not exit; output:\n%s", s.out)
	}
}

const sleeper = "#!/bin/sh\nexec sleep 1000\n"

// As under s6-svscan, every service directory is supervised whatever
// its files hold: its supervisor reports a ./run that cannot run (and
// retries it) and a malformed configuration file (and uses the default).
func TestScanValidatesServices(t *testing.T) {
	d := t.TempDir()
	service(t, d, map[string]string{
		"good/run":              sleeper,
		"norun/finish":          "#!/bin/sh\n",
		"noexec/run.noexec":     sleeper,
		"badfd/run":             sleeper,
		"badfd/notification-fd": "x",
		".hidden/run":           sleeper,
		"plainfile":             "not a service",
	})
	s := startScan(t, d)
	s.waitFor("good up", isUp(filepath.Join(d, "good")))
	// A malformed notification-fd is reported and ignored.
	s.waitFor("badfd up", isUp(filepath.Join(d, "badfd")))
	s.waitFor("reports", func() bool {
		o := s.out.String()
		return strings.Contains(o, "norun/run: missing") && strings.Contains(o, "not executable") && strings.Contains(o, "badfd/notification-fd")
	})
	for _, n := range []string{"norun", "noexec"} {
		s.waitFor(n+" supervised, down", func() bool { st, ok := status(filepath.Join(d, n)); return ok && !st.Up() })
	}
	if _, err := os.Stat(filepath.Join(d, ".hidden", "supervise")); err == nil {
		t.Errorf(".hidden: supervised, want ignored")
	}
	// Fixed, a service starts at its supervisor's next try (svc -u: at
	// once); a rescan reports nothing again.
	os.Chmod(filepath.Join(d, "noexec", "run"), 0o755)
	f, err := os.OpenFile(filepath.Join(d, "noexec", "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("u")
	f.Close()
	s.waitFor("fixed service up", isUp(filepath.Join(d, "noexec")))
	s.control("a")
	service(t, d, map[string]string{"late/run": sleeper})
	s.control("a")
	s.waitFor("late up", isUp(filepath.Join(d, "late")))
	if n := strings.Count(s.out.String(), "norun/run: missing"); n != 1 {
		t.Errorf("norun reported %d times, want once:\n%s", n, s.out)
	}
}

func TestOnDemandScanAndPrune(t *testing.T) {
	d := t.TempDir()
	service(t, d, map[string]string{"a/run": sleeper})
	s := startScan(t, d)
	s.waitFor("a up", isUp(filepath.Join(d, "a")))
	service(t, d, map[string]string{"b/run": sleeper})
	s.control("a")
	s.waitFor("b up after svscanctl -a", isUp(filepath.Join(d, "b")))
	st, _ := status(filepath.Join(d, "b"))
	// Remove b (keep a copy of its status path through a rename) and prune.
	if err := os.Rename(filepath.Join(d, "b"), filepath.Join(d, ".b-removed")); err != nil {
		t.Fatal(err)
	}
	s.control("h")
	s.waitFor("b stopped after prune", func() bool { return syscall.Kill(int(st.Pid), 0) != nil })
	if st, _ := status(filepath.Join(d, "a")); !st.Up() {
		t.Errorf("a disturbed by the prune: %+v", st)
	}
}

func TestLogPipeSurvivesLoggerRestarts(t *testing.T) {
	d := t.TempDir()
	out := filepath.Join(d, "log.out")
	service(t, d, map[string]string{
		// The service writes a batch of 200 numbered lines at start and
		// on each SIGUSR1.
		"a/run": "#!/bin/sh\nn=0\nemit() { j=0; while [ $j -lt 200 ]; do echo line $n; n=$((n+1)); j=$((j+1)); done; }\n" +
			"trap emit USR1\nemit\nwhile :; do sleep 1 & wait $!; done\n",
		"a/log/run": "#!/bin/sh\nexec cat >> " + out + "\n",
	})
	s := startScan(t, d)
	logdir := filepath.Join(d, "a", "log")
	lines := func() int { b, _ := os.ReadFile(out); return bytes.Count(b, []byte("\n")) }
	for round := 1; round <= 5; round++ {
		s.waitFor(fmt.Sprintf("%d lines", round*200), func() bool { return lines() >= round*200 })
		// Kill the logger while it is idle, then make the service write
		// while the logger is down: the scanner's pipe must keep the lines.
		st, _ := status(logdir)
		syscall.Kill(int(st.Pid), syscall.SIGKILL)
		// A reader being killed can still take data from the pipe before
		// it dies: write only once it is gone (reaped by svscan).
		s.waitFor("logger gone", func() bool { return syscall.Kill(int(st.Pid), 0) == syscall.ESRCH })
		main, _ := status(filepath.Join(d, "a"))
		syscall.Kill(int(main.Pid), syscall.SIGUSR1)
		s.waitFor("logger restarted", func() bool { n, ok := status(logdir); return ok && n.Up() && n.Pid != st.Pid })
	}
	s.waitFor("all lines logged", func() bool { return lines() >= 1200 })
	b, _ := os.ReadFile(out)
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != 1200 {
		t.Errorf("%d lines logged, want 1200", len(got))
	}
	for i, l := range got {
		if l != fmt.Sprintf("line %d", i) {
			t.Fatalf("line %d is %q: lost or duplicated lines across logger restarts", i, l)
		}
	}
}

func TestTerminateStopsServicesThenLoggersThenFinish(t *testing.T) {
	d := t.TempDir()
	marker := filepath.Join(d, "finished")
	logged := filepath.Join(d, "logged")
	service(t, d, map[string]string{
		"a/run":             "#!/bin/sh\ntrap 'kill $!; echo last words; exit 0' TERM\nsleep 1000 &\necho hello\nwait\n",
		"a/log/run":         "#!/bin/sh\nexec cat > " + logged + "\n",
		"a/finish":          "#!/bin/sh\necho finish $1 $2\n",
		"b/run":             sleeper,
		".s6-svscan/finish": "#!/bin/sh\necho finish ran > " + marker + "\n",
	})
	s := startScan(t, d)
	s.waitFor("services up", func() bool {
		return isUp(filepath.Join(d, "a"))() && isUp(filepath.Join(d, "b"))() && isUp(filepath.Join(d, "a", "log"))()
	})
	s.waitFor("hello logged", func() bool { b, _ := os.ReadFile(logged); return strings.Contains(string(b), "hello") })
	s.control("t")
	s.waitExit()
	if b, err := os.ReadFile(marker); err != nil || string(b) != "finish ran\n" {
		t.Errorf(".s6-svscan/finish not run: %q %v; output:\n%s", b, err, s.out)
	}
	// The logger drained the service's last words before it exited.
	// ./finish's output too: svscanctl -t, unlike svc -x, keeps its stdio.
	if b, _ := os.ReadFile(logged); string(b) != "hello\nlast words\nfinish 0 0\n" {
		t.Errorf("logger got %q, want hello and last words", b)
	}
}

func TestSignalHooksAndDefaults(t *testing.T) {
	d := t.TempDir()
	marker := filepath.Join(d, "usr1")
	service(t, d, map[string]string{
		"a/run":              sleeper,
		".s6-svscan/SIGUSR1": "#!/bin/sh\necho hook > " + marker + "\n",
	})
	s := startScan(t, d)
	s.waitFor("a up", isUp(filepath.Join(d, "a")))
	s.cmd.Process.Signal(syscall.SIGUSR1)
	s.waitFor("SIGUSR1 hook", func() bool { _, err := os.Stat(marker); return err == nil })
	// SIGUSR2 has no hook and no default: ignored.
	s.cmd.Process.Signal(syscall.SIGUSR2)
	// SIGHUP: rescan (a new service comes up).
	service(t, d, map[string]string{"b/run": sleeper})
	s.cmd.Process.Signal(syscall.SIGHUP)
	s.waitFor("b up after SIGHUP", isUp(filepath.Join(d, "b")))
	// SIGTERM with no hook: like svscanctl -t.
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.waitExit()
	if st, _ := status(filepath.Join(d, "a")); st.Up() {
		t.Errorf("a still up after SIGTERM to svscan: %+v", st)
	}
}

func TestGarbageOnControl(t *testing.T) {
	d := t.TempDir()
	service(t, d, map[string]string{"a/run": sleeper})
	s := startScan(t, d)
	s.waitFor("a up", isUp(filepath.Join(d, "a")))
	s.control("\x00\xffXYZ\n")
	service(t, d, map[string]string{"b/run": sleeper})
	s.control("a")
	s.waitFor("b up", isUp(filepath.Join(d, "b")))
	s.waitFor("garbage reported", func() bool { return strings.Contains(s.out.String(), "ignored 5 byte(s)") })
	// Garbage on a service's control FIFO, too.
	f, _ := os.OpenFile(filepath.Join(d, "a", "supervise", "control"), os.O_WRONLY, 0)
	f.WriteString("\x01\x02")
	f.Close()
	s.waitFor("service garbage reported", func() bool { return strings.Contains(s.out.String(), "ignored 2 byte(s) on supervise/control") })
}

func TestCrashLoopDoesNotDisturbOthers(t *testing.T) {
	d := t.TempDir()
	service(t, d, map[string]string{
		"crash/run":             "#!/bin/sh\nexit 1\n",
		"steady/run":            sleeper,
		"stubborn/run":          "#!/bin/sh\ntrap '' TERM\nexec sleep 1000\n",
		"stubborn/timeout-kill": "300",
	})
	s := startScan(t, d)
	s.waitFor("steady up", isUp(filepath.Join(d, "steady")))
	s.waitFor("stubborn up", isUp(filepath.Join(d, "stubborn")))
	st, _ := status(filepath.Join(d, "steady"))
	time.Sleep(1500 * time.Millisecond)
	if st2, _ := status(filepath.Join(d, "steady")); st2.Pid != st.Pid {
		t.Errorf("steady restarted while crash looped: pid %d -> %d", st.Pid, st2.Pid)
	}
	f, _ := os.OpenFile(filepath.Join(d, "stubborn", "supervise", "control"), os.O_WRONLY, 0)
	f.WriteString("d")
	f.Close()
	s.waitFor("stubborn killed after timeout-kill", isDown(filepath.Join(d, "stubborn")))
}

func TestLongNameAndManyServices(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	}
	d := t.TempDir()
	long := strings.Repeat("x", 255)
	files := map[string]string{long + "/run": sleeper}
	for i := 0; i < n; i++ {
		files[fmt.Sprintf("s%04d/run", i)] = sleeper
	}
	service(t, d, files)
	s := startScan(t, d)
	s.waitFor("all up", func() bool {
		for i := 0; i < n; i++ {
			if !isUp(filepath.Join(d, fmt.Sprintf("s%04d", i)))() {
				return false
			}
		}
		return isUp(filepath.Join(d, long))()
	})
	s.control("t")
	s.waitExit()
	for i := 0; i < n; i += 97 {
		if isUp(filepath.Join(d, fmt.Sprintf("s%04d", i)))() {
			t.Errorf("s%04d still up after t", i)
		}
	}
}

func TestBadScanDir(t *testing.T) {
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"file", "/etc/hostname", "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(svscanBin, tc.dir).CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 111 || !strings.Contains(string(out), tc.want) {
				t.Errorf("svscan %s: %v, output %q; want exit 111 mentioning %q", tc.dir, err, out, tc.want)
			}
		})
	}
	out, err := exec.Command(svscanBin, "-t", "x", "/tmp").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 100 {
		t.Errorf("bad -t: %v %q, want exit 100", err, out)
	}
}

func TestSecondScannerRefused(t *testing.T) {
	d := t.TempDir()
	service(t, d, map[string]string{"a/run": sleeper})
	s := startScan(t, d)
	s.waitFor("a up", isUp(filepath.Join(d, "a")))
	out, err := exec.Command(svscanBin, d).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 111 || !strings.Contains(string(out), "already running") {
		t.Errorf("second svscan: %v %q", err, out)
	}
}

func TestPollOption(t *testing.T) {
	d := t.TempDir()
	s := startScan(t, d, "-t", "100")
	service(t, d, map[string]string{"late/run": sleeper})
	s.waitFor("late service picked up by the poll", isUp(filepath.Join(d, "late")))
}
