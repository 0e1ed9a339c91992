package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getty"
	"golang.org/x/sys/unix"
)

// The test binary doubles as getty (GETTY_TEST_MAIN), as the "shell"
// getty execs (GETTY_TEST_HELPER), which reports what it finds on fd 0,
// and as a command and its child for getty's own shell to run
// (GETTY_TEST_PARENT, GETTY_TEST_CAT; these come first: getty's shell
// passes GETTY_TEST_MAIN on).
func TestMain(m *testing.M) {
	switch {
	case os.Getenv("GETTY_TEST_PARENT") == "1":
		parent()
	case os.Getenv("GETTY_TEST_CAT") == "1":
		copyInput()
	case os.Getenv("GETTY_TEST_HELPER") == "1":
		helper()
	case os.Getenv("GETTY_TEST_MAIN") == "1":
		cli.Main("getty", run)
	}
	os.Exit(m.Run())
}

func helper() {
	pid := os.Getpid()
	pgrp, err1 := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	sid, err2 := unix.IoctlGetInt(0, unix.TIOCGSID)
	tio, err3 := unix.IoctlGetTermios(0, unix.TCGETS)
	if err := errors.Join(err1, err2, err3); err != nil {
		fmt.Printf("HELPER-ERROR %v\n", err)
		os.Exit(1)
	}
	same := func(a, b int) bool {
		var sa, sb unix.Stat_t
		return unix.Fstat(a, &sa) == nil && unix.Fstat(b, &sb) == nil && sa.Rdev == sb.Rdev
	}
	wd, _ := os.Getwd()
	fmt.Printf("HELPER ctty=%v fg=%v fds=%v icanon=%v echo=%v onlcr=%v TERM=%s HOME=%s wd=%s END\n",
		sid == pid, pgrp == pid, same(0, 1) && same(0, 2),
		tio.Lflag&unix.ICANON != 0, tio.Lflag&unix.ECHO != 0, tio.Oflag&unix.ONLCR != 0,
		os.Getenv("TERM"), os.Getenv("HOME"), wd)
	os.Exit(0)
}

// parent is a command like `gosh -c cat`: it runs a child reading the
// terminal (copyInput) and waits for it. Both are Go programs that die
// of SIGINT, the parent often first.
func parent() {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GETTY_TEST_PARENT=", "GETTY_TEST_CAT=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// copyInput says it runs, then copies its input to its output (cat).
func copyInput() {
	fmt.Println("copy" + "-ready")
	buf := make([]byte, 4096)
	for {
		n, err := os.Stdin.Read(buf)
		if err != nil {
			os.Exit(0)
		}
		os.Stdout.Write(buf[:n])
	}
}

func openPty(t *testing.T) (*os.File, string) {
	t.Helper()
	// Non-blocking, and never m.Fd() (it would switch the file back to
	// blocking mode): readUntil's deadline needs the runtime poller.
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	m := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { m.Close() })
	return m, "/dev/pts/" + strconv.Itoa(int(n))
}

// readUntil reads the master until want appears, the slave side is gone
// (EIO), or a generous deadline passes.
func readUntil(m *os.File, got *bytes.Buffer, want string) bool {
	m.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), want) {
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			return strings.Contains(got.String(), want)
		}
	}
	return true
}

// readUntilFrom is readUntil looking at the output from offset from on.
func readUntilFrom(m *os.File, got *bytes.Buffer, from int, want string) bool {
	m.SetReadDeadline(time.Now().Add(60 * time.Second))
	buf := make([]byte, 4096)
	for !strings.Contains(got.String()[from:], want) {
		n, err := m.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			return strings.Contains(got.String()[from:], want)
		}
	}
	return true
}

type proc struct {
	done chan struct{}
	err  error
}

// wait returns the exit error; it may be called any number of times.
func (p *proc) wait() error {
	<-p.done
	return p.err
}

func startGetty(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *proc) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GETTY_TEST_MAIN=1", "GETTY_TEST_HELPER=", "TERM=dumb")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		p.wait()
	})
	return cmd, &errb, p
}

func TestGettyOnPty(t *testing.T) {
	m, slave := openPty(t)
	wrapper := writeHelper(t)
	_, errb, done := startGetty(t, "-l", wrapper, "-p", filepath.Join(t.TempDir(), "none"), slave)
	var out bytes.Buffer
	if !readUntil(m, &out, "END") {
		t.Fatalf("no helper report; tty output %q; stderr %q", out.String(), errb.String())
	}
	hostname, release := getty.Uname()
	if !strings.Contains(out.String(), "svinit on "+hostname+" (Linux "+release+") "+slave+"\r\n") {
		t.Errorf("banner missing or without CRLF: %q", out.String())
	}
	want := "HELPER ctty=true fg=true fds=true icanon=true echo=true onlcr=true TERM=vt102 HOME=/root"
	if !strings.Contains(out.String(), want) {
		t.Errorf("helper report %q lacks %q", out.String(), want)
	}
	if err := done.wait(); err != nil {
		t.Errorf("getty (the helper after exec) exited: %v; stderr %q", err, errb.String())
	}
}

func TestGettyPassword(t *testing.T) {
	m, slave := openPty(t)
	wrapper := writeHelper(t)
	pwfile := filepath.Join(t.TempDir(), "getty-password")
	entry, _ := getty.HashPassword("NaCl", "letmein")
	os.WriteFile(pwfile, []byte(entry+"\n"), 0o600)
	_, errb, done := startGetty(t, "-w", "0", "-l", wrapper, "-p", pwfile, slave)
	var out bytes.Buffer
	if !readUntil(m, &out, "Password: ") {
		t.Fatalf("no prompt: %q; stderr %q", out.String(), errb.String())
	}
	m.Write([]byte("wrong\r"))
	if !readUntil(m, &out, "Login incorrect") {
		t.Fatalf("no rejection: %q", out.String())
	}
	if !readUntil(m, &out, "Password: \r\nLogin incorrect\r\nPassword: ") {
		t.Fatalf("no second prompt: %q", out.String())
	}
	m.Write([]byte("letmein\r"))
	if !readUntil(m, &out, "END") {
		t.Fatalf("no shell after the right password: %q; stderr %q", out.String(), errb.String())
	}
	if strings.Contains(out.String(), "letmein") || strings.Contains(out.String(), "wrong") {
		t.Errorf("password echoed: %q", out.String())
	}
	if !strings.Contains(out.String(), "echo=true") {
		t.Errorf("echo not restored for the shell: %q", out.String())
	}
	done.wait()
}

func TestGettyBadPasswordFileFailsClosed(t *testing.T) {
	m, slave := openPty(t)
	wrapper := writeHelper(t)
	pwfile := filepath.Join(t.TempDir(), "getty-password")
	os.WriteFile(pwfile, []byte("not-a-hash\n"), 0o600)
	_, errb, done := startGetty(t, "-l", wrapper, "-p", pwfile, slave)
	var out bytes.Buffer
	readUntil(m, &out, "END")
	err := done.wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitSystem {
		t.Fatalf("exit = %v, want 111", err)
	}
	if strings.Contains(out.String(), "HELPER") {
		t.Fatalf("shell started despite a broken password file: %q", out.String())
	}
	if !strings.Contains(out.String(), "getty: "+pwfile+": ") {
		t.Errorf("the terminal does not show the error naming the file: %q (stderr %q)", out.String(), errb.String())
	}
}

// writeHelper writes a tiny script that re-execs the test binary in
// helper mode (getty execs -l with no arguments).
func writeHelper(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shell")
	script := "#!/bin/sh\nGETTY_TEST_HELPER=1 exec " + strconv.Quote(os.Args[0]) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"getty", "-x"}, {"getty", "-b", "fast"}, {"getty", "-b", "12345"}, {"getty", "a", "b"}, {"getty", "-H", "tty1"}, {"getty", "-w", "x"}} {
		if err := run(args, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v", args, err)
		}
	}
}

func TestHashMode(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"getty", "-H", "-s", "abc"}, strings.NewReader("secret\n"), &out, &out); err != nil {
		t.Fatal(err)
	}
	// crypt(3) of "secret" with "$6$abc".
	if out.String() != "$6$abc$IdWKNKTJEb8LxY7CGg8YBXlvtfZzFw7Mp/r6niK9YB2mdvgY..TKjv1T..8RadRt2qvUHYRLr/TsVArtr91iR1\n" {
		t.Fatalf("out = %q", out.String())
	}
}

// TestShellNothingLost: getty's own shell answers every command typed
// on its terminal, with the line editor (TERM=vt102, what getty gives a
// pseudo-terminal) and with the plain reader (-T dumb), whether the
// commands are typed one after the other as each answer shows or all
// at once as soon as the prompt shows (nothing read past a line's end
// is dropped; the commands then append to a file, since the kernel's
// echo of the lines typed ahead mixes with their output).
func TestShellNothingLost(t *testing.T) {
	const n = 100
	for _, tc := range []struct {
		name  string
		args  []string
		burst bool
	}{
		{"editor", nil, false},
		{"editor burst", nil, true},
		{"plain", []string{"-T", "dumb"}, false},
		{"plain burst", []string{"-T", "dumb"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := openPty(t)
			dir := t.TempDir()
			args := append(append([]string{"-p", filepath.Join(dir, "none")}, tc.args...), slave)
			_, errb, done := startGetty(t, args...)
			var out bytes.Buffer
			if !readUntil(m, &out, "\n"+getty.PromptMain) {
				t.Fatalf("no prompt: %q; stderr %q", out.String(), errb.String())
			}
			if tc.burst {
				marks := filepath.Join(dir, "marks")
				var all strings.Builder
				var want strings.Builder
				for i := 1; i <= n; i++ {
					fmt.Fprintf(&all, "echo mark%d >> %s\r", i, marks)
					fmt.Fprintf(&want, "mark%d\n", i)
				}
				all.WriteString("exit 7\r")
				m.Write([]byte(all.String()))
				// Drain the terminal until getty is gone.
				go readUntil(m, &out, "never printed")
				checkExit(t, done, errb, 7)
				got, err := os.ReadFile(marks)
				if err != nil || string(got) != want.String() {
					t.Fatalf("commands typed at once: %s holds %q (%v), want mark1 to mark%d", marks, got, err, n)
				}
				return
			}
			for i := 1; i <= n; i++ {
				// The command text never holds its answer: $((i)) is
				// expanded by the shell.
				m.Write([]byte(fmt.Sprintf("echo mark$((%d))x\r", i)))
				if !readUntil(m, &out, fmt.Sprintf("mark%dx\r\n", i)) {
					t.Fatalf("command %d not answered; terminal output ends %q; stderr %q", i, tail(out.String()), errb.String())
				}
			}
			m.Write([]byte("exit 7\r"))
			checkExit(t, done, errb, 7)
		})
	}
}

func checkExit(t *testing.T, p *proc, errb *bytes.Buffer, want int) {
	t.Helper()
	err := p.wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != want {
		t.Errorf("getty after exit %d: %v; stderr %q", want, err, errb.String())
	}
}

// TestShellKeys: ^C abandons the line (and the shell, which ignores the
// signal its command got, goes on), a command reads what is typed after
// it, an incomplete command continues on the next line, a syntax error
// leaves the shell running, and ^D on an empty line ends it (exit 0).
func TestShellKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"editor", nil},
		{"plain", []string{"-T", "dumb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := openPty(t)
			args := append(append([]string{"-p", filepath.Join(t.TempDir(), "none")}, tc.args...), slave)
			_, errb, done := startGetty(t, args...)
			var out bytes.Buffer
			// step types send and waits for want in what the terminal
			// shows from then on.
			step := func(what, send, want string) {
				t.Helper()
				from := out.Len()
				m.Write([]byte(send))
				if !readUntilFrom(m, &out, from, want) {
					t.Fatalf("%s: no %q; terminal output ends %q; stderr %q", what, want, tail(out.String()), errb.String())
				}
			}
			step("prompt", "", "\n"+getty.PromptMain)
			step("^C at the prompt", "echo lost\x03echo a$((1))b\r", "a1b\r\n")
			if strings.Contains(out.String(), "lost\r\n") {
				t.Errorf("the line abandoned with ^C ran: %q", out.String())
			}
			// The shell survives the SIGINT its command gets (the
			// kernel sends it to the whole foreground group) and shows
			// a new prompt on a line of its own.
			// The child says when it runs (a ^C typed before would only
			// reach the shell); until it dies it is the one reading.
			step("a command to interrupt", "sh -c 'echo ready$((9)); exec cat'; echo after$((2))\r", "ready9\r\n")
			step("^C during a command", "\x03", "^C\r\n"+getty.PromptMain)
			step("after the interrupted command", "echo c$((3))d\r", "c3d\r\n")
			// ^C stops a loop the shell itself runs.
			step("a loop in the shell", "echo loop$((8)); while true; do :; done; echo after$((6))\r", "loop8\r\n")
			step("^C during the loop", "\x03", "^C\r\n"+getty.PromptMain)
			step("after the loop", "echo g$((7))\r", "g7\r\n")
			if strings.Contains(out.String(), "after6") {
				t.Errorf("the rest of the interrupted line ran: %q", out.String())
			}
			if strings.Contains(out.String(), "after2") {
				t.Errorf("the rest of the interrupted line ran: %q", out.String())
			}
			step("a command reading the terminal", "read v; echo v=$v.\r", "read v")
			step("its input", "typed\r", "v=typed.\r\n")
			// A command gets what is typed right after its line, even
			// in the same write: the shell read nothing past the Enter.
			step("typed ahead to a command", "head -n 1; echo h$((5))\rfor-head\r", "h5\r\n")
			if !strings.Contains(out.String(), "for-head\r\nh5\r\n") {
				t.Errorf("head did not print the line typed after its own: %q", tail(out.String()))
			}
			step("continuation", "for i in 1 2; do\r", getty.PromptMore)
			step("continued", "echo e$i; done\r", "e2\r\n")
			step("syntax error", "echo (\r", getty.PromptMain)
			// ^D once the prompt shows (typed while a command runs, it
			// would be the end of that command's input).
			step("after the error", "echo f$((4))\r", "f4\r\n"+getty.PromptMain)
			m.Write([]byte("\x04"))
			if err := done.wait(); err != nil {
				t.Errorf("getty after ^D: %v, want exit 0; stderr %q", err, errb.String())
			}
		})
	}
}

// TestShellAfterInterrupt: after ^C stops a command that runs a child
// reading the terminal (gosh -c 'cat' in the boot test), the line typed
// at the next prompt is the shell's, every time. Two races lost it: the
// shell reaped the command while the child, killed by the same ^C but
// not yet scheduled to die, read the line; and the shell's own SIGINT,
// handed over by the runtime after the command died, stopped the line
// typed at the prompt instead of the one it was for. Each round waits
// for the prompt after the ^C, then for the one after the next command.
func TestShellAfterInterrupt(t *testing.T) {
	const rounds = 60
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"editor", nil},
		{"plain", []string{"-T", "dumb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, slave := openPty(t)
			args := append(append([]string{"-p", filepath.Join(t.TempDir(), "none")}, tc.args...), slave)
			_, errb, done := startGetty(t, args...)
			var out bytes.Buffer
			wait := func(i int, what string, from int, want string) {
				t.Helper()
				if !readUntilFrom(m, &out, from, want) {
					t.Fatalf("round %d, %s: no %q; terminal output ends %q; stderr %q", i, what, want, tail(out.String()), errb.String())
				}
			}
			wait(0, "prompt", 0, "\n"+getty.PromptMain)
			for i := 1; i <= rounds; i++ {
				from := out.Len()
				fmt.Fprintf(m, "GETTY_TEST_PARENT=1 %s\r", os.Args[0])
				wait(i, "the command", from, "copy-ready\r\n")
				from = out.Len()
				m.Write([]byte("to-copy\r"))
				// The kernel's echo, then the child's copy.
				wait(i, "the echo", from, "to-copy")
				wait(i, "the copy", from+strings.Index(out.String()[from:], "to-copy")+1, "to-copy")
				from = out.Len()
				m.Write([]byte("\x03"))
				wait(i, "^C", from, "^C\r\n"+getty.PromptMain)
				from = out.Len()
				fmt.Fprintf(m, "echo mark$((%d))x\r", i)
				wait(i, "the prompt after the next command", from, "\n"+getty.PromptMain)
				if want := fmt.Sprintf("mark%dx\r\n", i); !strings.Contains(out.String()[from:], want) {
					t.Fatalf("round %d: the command typed after ^C did not run: no %q; terminal output ends %q", i, want, tail(out.String()))
				}
			}
			m.Write([]byte("exit 7\r"))
			checkExit(t, done, errb, 7)
		})
	}
}

func tail(s string) string {
	if len(s) > 600 {
		s = s[len(s)-600:]
	}
	return s
}
