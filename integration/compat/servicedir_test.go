package compat

// Service directory compatibility: every file of s6 2.11's service
// directory and supervise/ documentation, driven with Debian's s6 tools
// (s6-svc, s6-svwait, s6-svstat, s6-svdt, s6-svok, s6-svperms) on the
// same directory supervised once by Debian's s6-supervise and once by our
// supervise: what the tools and the service see must be the same. And
// Debian's s6-fdholder-daemon -1 (s6-rc's s6rc-fdholder) as a service
// under our svscan.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
)

var sdTools = []string{"s6-supervise", "s6-svc", "s6-svwait", "s6-svstat", "s6-svdt", "s6-svdt-clear", "s6-svok",
	"s6-svperms", "s6-fdholder-daemon", "s6-fdholder-list"}

// sdNeedTools fails (never skips) when Debian's s6 is missing.
func sdNeedTools(t *testing.T) {
	t.Helper()
	for _, tool := range sdTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian's s6 package (apt-get install s6): %v", tool, err)
		}
	}
}

// sdRun runs a tool in dir and returns its exit code and output.
func sdRun(t *testing.T, dir, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatalf("%s %q: %v", name, args, err)
	}
	return 0, out.String()
}

// sdStep is one thing done to a supervised service; what it prints is
// recorded, to be compared between the two supervisors.
type sdStep struct {
	what string   // svc, wait, svstat, svdt, file, svok, svperms, restart, clear
	args []string // for svc and wait: the options; for file: the name
}

type sdCase struct {
	name  string
	files map[string]string // "x->y": a symbolic link x to y; "d/": a directory
	pre   func(t *testing.T, dir string)
	steps []sdStep
}

func sdSvc(opts string) sdStep     { return sdStep{"svc", []string{opts}} }
func sdWait(opts ...string) sdStep { return sdStep{"wait", opts} }
func sdFile(name string) sdStep    { return sdStep{"file", []string{name}} }

// sdOnce starts a service that is down (svc -o) whose run appends to
// ./runs and exits, and waits until it is down again after its n-th run:
// s6-svwait -D alone would see it down before it started.
func sdOnce(n int) []sdStep {
	return []sdStep{sdSvc("-o"), {"count", []string{"runs", strconv.Itoa(n)}}, sdWait("-D")}
}

// sdSteps joins step lists.
func sdSteps(l ...[]sdStep) []sdStep {
	var all []sdStep
	for _, s := range l {
		all = append(all, s...)
	}
	return all
}

var (
	sdStat = sdStep{what: "svstat"}
	// sdPaused is sdStat once the status says paused (there is no event
	// for it: the supervisor applies svc -p after s6-svc returns).
	sdPaused = sdStep{"svstat", []string{"4", "true"}}
	// sdResumed: once it says not paused.
	sdResumed = sdStep{"svstat", []string{"4", "false"}}
	// sdWantedDown: once it says wanted down.
	sdWantedDown = sdStep{"svstat", []string{"1", "false"}}
	sdDT         = sdStep{what: "svdt"}
	sdOK         = sdStep{what: "svok"}
	sdPerms      = sdStep{what: "svperms"}
	sdRestart    = sdStep{what: "restart"} // the supervisor exits (svc -dx) and starts again
	sdClear      = sdStep{what: "clear"}   // s6-svdt-clear
)

const (
	sdSleeper = "#!/bin/sh\nexec sleep 100000\n"
	sdFailer  = "#!/bin/sh\necho >> runs\nexit 3\n"
)

var sdCases = []sdCase{
	{"run gets the service name", map[string]string{"run": "#!/bin/sh\necho \"$#:$1\" > args\nexec sleep 100000\n"}, nil,
		[]sdStep{sdWait("-u"), sdFile("args"), sdStat}},
	{"finish arguments", map[string]string{"run": sdSleeper, "finish": "#!/bin/sh\necho \"$1 $2 $3\" > args\n"}, nil,
		[]sdStep{sdWait("-u"), sdSvc("-d"), sdWait("-D"), sdFile("args"), sdStat}},
	{"finish added while up", map[string]string{"run": sdSleeper}, nil,
		[]sdStep{sdWait("-u"), {"write", []string{"finish", "#!/bin/sh\necho \"$1 $2 $3\" > args\n"}}, sdSvc("-d"), sdWait("-D"), sdFile("args")}},
	{"finish exit 125", map[string]string{"run": sdFailer, "finish": "#!/bin/sh\nexit 125\n", "down": ""}, nil,
		sdSteps(sdOnce(1), []sdStep{sdStat})},
	{"down", map[string]string{"run": sdSleeper, "down": ""}, nil,
		[]sdStep{sdStat, sdSvc("-u"), sdWait("-u"), sdStat}},
	{"down dangling", map[string]string{"run": sdSleeper, "down->nowhere": ""}, nil,
		[]sdStep{sdWait("-u"), sdStat}},
	{"svc -D and -U", map[string]string{"run": sdSleeper}, nil,
		[]sdStep{sdWait("-u"), sdSvc("-D"), sdWait("-D"), sdFile("down"), sdStat, sdSvc("-U"), sdWait("-u"), sdStat}},
	{"svc -Q", map[string]string{"run": sdSleeper}, nil,
		[]sdStep{sdWait("-u"), sdSvc("-Q"), sdWantedDown, sdFile("down")}},
	{"notification-fd 3", map[string]string{"run": "#!/bin/sh\necho >&3\nexec sleep 100000\n", "notification-fd": "3\n"}, nil,
		[]sdStep{sdWait("-U"), sdStat}},
	{"notification-fd 1", map[string]string{"run": "#!/bin/sh\necho >&1\nexec sleep 100000\n", "notification-fd": "1"}, nil,
		[]sdStep{sdWait("-U"), sdStat}},
	{"notification-fd 0", map[string]string{"run": "#!/bin/sh\necho >&0\nexec sleep 100000\n", "notification-fd": "0"}, nil,
		[]sdStep{sdWait("-U"), sdStat}},
	{"notification-fd malformed", map[string]string{"run": "#!/bin/sh\necho >&3\nexec sleep 100000\n", "notification-fd": "3 \n"}, nil,
		[]sdStep{sdWait("-u"), sdWait("-U", "-t", "300"), sdStat}},
	{"lock-fd", map[string]string{"run": "#!/bin/sh\nt=$(readlink /proc/$$/fd/5)\necho \"${t##*/}\" > lk.new\nmv lk.new lk\nexec sleep 100000\n", "lock-fd": "5"},
		// Debian's s6 2.11 opens the file without creating it. lk
		// appears whole (renamed in): the step reads it once it exists.
		func(t *testing.T, dir string) {
			os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
			os.WriteFile(filepath.Join(dir, "supervise", "service-lock"), nil, 0o644)
		},
		[]sdStep{sdWait("-u"), sdFile("lk"), sdStat}},
	{"timeout-kill", map[string]string{"run": "#!/bin/sh\ntrap '' TERM\necho >&3\nexec sleep 100000\n", "notification-fd": "3", "timeout-kill": "200\n"}, nil,
		[]sdStep{sdWait("-U"), sdSvc("-d"), sdWait("-D"), sdStat}},
	{"timeout-kill malformed", map[string]string{"run": sdSleeper, "timeout-kill": "soon"}, nil,
		[]sdStep{sdWait("-u"), sdSvc("-d"), sdWait("-D"), sdStat}},
	{"timeout-finish", map[string]string{"run": sdSleeper, "finish": "#!/bin/sh\nexec sleep 100000\n", "timeout-finish": "200"}, nil,
		[]sdStep{sdWait("-u"), sdSvc("-d"), sdWait("-D"), sdStat}},
	{"max-death-tally", map[string]string{"run": sdFailer, "down": "", "max-death-tally": "2"}, nil,
		sdSteps(sdOnce(1), sdOnce(2), sdOnce(3), []sdStep{sdDT})},
	{"max-death-tally malformed", map[string]string{"run": sdFailer, "down": "", "max-death-tally": "two"}, nil,
		sdSteps(sdOnce(1), sdOnce(2), sdOnce(3), []sdStep{sdDT})},
	{"death_tally cleared", map[string]string{"run": sdFailer, "down": ""}, nil,
		sdSteps(sdOnce(1), sdOnce(2), []sdStep{sdDT, sdClear}, sdOnce(3), []sdStep{sdDT})},
	{"death_tally of a new supervisor", map[string]string{"run": sdFailer, "down": ""}, nil,
		sdSteps(sdOnce(1), []sdStep{sdDT, sdRestart, sdDT})},
	{"down-signal", map[string]string{"run": "#!/bin/sh\ntrap 'kill $!; exit 7' HUP\necho >&3\nsleep 100000 & wait\n", "notification-fd": "3", "down-signal": "SIGHUP\n"}, nil,
		[]sdStep{sdWait("-U"), sdSvc("-d"), sdWait("-D"), sdStat}},
	{"down-signal by number", map[string]string{"run": "#!/bin/sh\ntrap 'kill $!; exit 7' USR1\necho >&3\nsleep 100000 & wait\n", "notification-fd": "3", "down-signal": "10"}, nil,
		[]sdStep{sdWait("-U"), sdSvc("-r"), sdWait("-D"), sdStat}},
	{"down-signal malformed", map[string]string{"run": sdSleeper, "down-signal": "SIGNOPE"}, nil,
		[]sdStep{sdWait("-u"), sdSvc("-d"), sdWait("-D"), sdStat}},
	{"supervise and control", map[string]string{"run": sdSleeper}, nil,
		[]sdStep{sdOK, sdWait("-u"), sdSvc("-p"), sdPaused, sdSvc("-c"), sdResumed, sdSvc("-k"), sdWait("-d"), sdWait("-u"), sdStat}},
	{"supervise a dangling link", map[string]string{"run": sdSleeper, "supervise->sv": ""}, nil,
		[]sdStep{sdOK, sdWait("-u"), sdFile("sv/lock"), sdStat}},
	{"event a dangling link", map[string]string{"run": sdSleeper, "event->ev": ""}, nil,
		[]sdStep{sdWait("-u"), sdPerms}},
	{"rights kept", map[string]string{"run": sdSleeper}, nil,
		[]sdStep{sdWait("-u"), sdPerms, sdStep{"svperms", []string{"-O", ":0", "-e"}}, sdRestart, sdWait("-u"), sdPerms}},
	{"data and env untouched", map[string]string{"run": sdSleeper, "data/": "", "env/": "", "data/x": "1", "env/Y": "2"}, nil,
		[]sdStep{sdWait("-u"), sdFile("data/x"), sdFile("env/Y"), sdStat}},
}

// sdSupervisor runs one supervisor (Debian's or ours) on dir.
type sdSupervisor struct {
	bin  string
	cmd  *exec.Cmd
	out  *sdLog
	done chan error
}

// sdLog is the supervisor's stdout and stderr: a file, so that nothing
// waits for a service that keeps them open.
type sdLog struct{ f *os.File }

func (l *sdLog) String() string {
	b, _ := os.ReadFile(l.f.Name())
	return string(b)
}

func sdStart(t *testing.T, bin, parent string) *sdSupervisor {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	s := &sdSupervisor{bin: bin, out: &sdLog{f}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, "svc")
	s.cmd.Dir = parent
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	dir := filepath.Join(parent, "svc")
	deadline := time.Now().Add(clientsLong)
	for {
		// The lock, the status, and a reader on the control FIFO (after
		// a restart, the FIFO and the status of the previous supervisor
		// are there before the new one has opened the FIFO: s6-svc would
		// find no reader).
		code, _ := sdRun(t, parent, "s6-svok", "svc")
		if _, err := os.Stat(filepath.Join(dir, "supervise", "status")); code == 0 && err == nil {
			if f, err := os.OpenFile(filepath.Join(dir, "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("%s exited: %v\n%s", bin, err, s.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not start supervising\n%s", bin, s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop makes the supervisor exit with its service down.
func (s *sdSupervisor) stop(t *testing.T, parent string) {
	t.Helper()
	if code, out := sdRun(t, parent, "s6-svc", "-dx", "svc"); code != 0 {
		t.Errorf("s6-svc -dx: exit %d %s", code, out)
	}
	select {
	case <-s.done:
	case <-time.After(clientsLong):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("%s did not exit on svc -dx:\n%s", s.bin, s.out)
	}
}

// sdPlay supervises a fresh copy of the case's directory with bin and
// returns what each step printed.
func sdPlay(t *testing.T, bin string, c sdCase) []string {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "svc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range c.files {
		p := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, "/"):
			os.MkdirAll(p, 0o755)
		case strings.Contains(name, "->"):
			i := strings.Index(name, "->")
			if err := os.Symlink(name[i+2:], filepath.Join(dir, name[:i])); err != nil {
				t.Fatal(err)
			}
		default:
			mode := os.FileMode(0o644)
			if name == "run" || name == "finish" {
				mode = 0o755
			}
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte(content), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c.pre != nil {
		c.pre(t, dir)
	}
	s := sdStart(t, bin, parent)
	defer func() { s.stop(t, parent) }()
	var got []string
	for _, st := range c.steps {
		var out string
		switch st.what {
		case "svc":
			code, o := sdRun(t, parent, "s6-svc", append(st.args, "svc")...)
			out = fmt.Sprintf("svc %s: %d %s", st.args, code, o)
		case "wait":
			args := st.args
			if len(args) == 1 {
				args = append(args, "-t", "60000")
			}
			code, o := sdRun(t, parent, "s6-svwait", append(args, "svc")...)
			out = fmt.Sprintf("wait %s: %d %s", st.args, code, o)
		case "svstat":
			deadline := time.Now().Add(clientsLong)
			for {
				code, o := sdRun(t, parent, "s6-svstat", "-o", "up,wantedup,normallyup,ready,paused,exitcode,signal", "svc")
				out = fmt.Sprintf("svstat: %d %s", code, o)
				i := 0
				if len(st.args) == 2 {
					i, _ = strconv.Atoi(st.args[0])
				}
				if f := strings.Fields(o); len(st.args) == 0 || len(f) == 7 && f[i] == st.args[1] || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		case "svdt":
			// The causes, without the times.
			code, o := sdRun(t, parent, "s6-svdt", "svc")
			var causes []string
			for _, l := range strings.Split(strings.TrimSpace(o), "\n") {
				if f := strings.Fields(l); len(f) == 3 {
					causes = append(causes, f[1]+" "+f[2])
				} else if l != "" {
					causes = append(causes, l)
				}
			}
			out = fmt.Sprintf("svdt: %d %q", code, causes)
		case "clear":
			code, o := sdRun(t, parent, "s6-svdt-clear", "svc")
			out = fmt.Sprintf("svdt-clear: %d %s", code, o)
		case "file":
			fi, err := os.Lstat(filepath.Join(dir, st.args[0]))
			deadline := time.Now().Add(clientsLong)
			for err != nil && time.Now().Before(deadline) { // written by the service once started
				time.Sleep(20 * time.Millisecond)
				fi, err = os.Lstat(filepath.Join(dir, st.args[0]))
			}
			b, _ := os.ReadFile(filepath.Join(dir, st.args[0]))
			if err == nil {
				out = fmt.Sprintf("file %s: %v %q", st.args[0], fi.Mode(), b)
			} else {
				out = fmt.Sprintf("file %s: %v", st.args[0], err)
			}
		case "count":
			want, _ := strconv.Atoi(st.args[1])
			deadline := time.Now().Add(clientsLong)
			for {
				b, _ := os.ReadFile(filepath.Join(dir, st.args[0]))
				if n := strings.Count(string(b), "\n"); n >= want {
					out = fmt.Sprintf("count %s: %d", st.args[0], n)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %q lines never reached %d", bin, st.args[0], want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		case "write":
			if err := os.WriteFile(filepath.Join(dir, st.args[0]), []byte(st.args[1]), 0o755); err != nil {
				t.Fatal(err)
			}
			out = "wrote " + st.args[0]
		case "svok":
			code, o := sdRun(t, parent, "s6-svok", "svc")
			out = fmt.Sprintf("svok: %d %s", code, o)
		case "svperms":
			code, o := sdRun(t, parent, "s6-svperms", append(st.args, "svc")...)
			out = fmt.Sprintf("svperms %s: %d %s", st.args, code, o)
		case "restart":
			s.stop(t, parent)
			s = sdStart(t, bin, parent)
			out = "restarted"
		}
		got = append(got, out)
	}
	return got
}

// TestServiceDirFiles plays each case under Debian's s6-supervise and
// under our supervise and compares what Debian's tools (and the service)
// saw at each step.
func TestServiceDirFiles(t *testing.T) {
	sdNeedTools(t)
	bin := testutil.Commands(t, "supervise")
	ours := filepath.Join(bin, "supervise")
	for _, c := range sdCases {
		t.Run(c.name, func(t *testing.T) {
			theirs := sdPlay(t, "s6-supervise", c)
			mine := sdPlay(t, ours, c)
			for i := range theirs {
				if theirs[i] != mine[i] {
					t.Errorf("step %d (%s %q):\n s6-supervise: %s\n ours:         %s", i, c.steps[i].what, c.steps[i].args, theirs[i], mine[i])
				}
			}
		})
	}
}

// TestFdholderUnderSvscan runs Debian's s6-fdholder-daemon -1 (what
// s6-rc's s6rc-fdholder runs, with notification-fd 1) under our svscan
// and waits for it with Debian's s6-svwait -U; the daemon then answers
// s6-fdholder-list.
func TestFdholderUnderSvscan(t *testing.T) {
	sdNeedTools(t)
	bin := testutil.Commands(t, "svscan")
	scan := t.TempDir()
	dir := filepath.Join(scan, "s6rc-fdholder")
	for name, content := range map[string]string{
		"run":                                   "#!/bin/sh\nexec s6-fdholder-daemon -1 -i data/rules -- s\n",
		"notification-fd":                       "1\n",
		"data/rules/uid/0/env/S6_FDHOLDER_LIST": "\n",
		"data/rules/uid/0/allow":                "",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if name == "run" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(bin, "svscan"), scan)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(clientsLong):
			cmd.Process.Kill()
			<-done
			t.Errorf("svscan did not exit on SIGTERM; log:\n%s", &log)
		}
	}()
	clientsAwait(t, "svscan supervising s6rc-fdholder", func() bool {
		_, err := os.Stat(filepath.Join(dir, "supervise", "status"))
		code, _ := sdRun(t, scan, "s6-svok", "s6rc-fdholder")
		return err == nil && code == 0
	})
	if code, out := sdRun(t, scan, "s6-svwait", "-U", "-t", "60000", "s6rc-fdholder"); code != 0 {
		t.Fatalf("s6-svwait -U: exit %d %s; svscan log:\n%s", code, out, &log)
	}
	if code, out := sdRun(t, dir, "s6-fdholder-list", "s"); code != 0 {
		t.Errorf("s6-fdholder-list: exit %d %s", code, out)
	}
	code, out := sdRun(t, scan, "s6-svstat", "-o", "up,ready", "s6rc-fdholder")
	if code != 0 || strings.TrimSpace(out) != "true true" {
		t.Errorf("s6-svstat: %d %q, want up and ready", code, out)
	}
}
