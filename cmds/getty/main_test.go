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

// The test binary doubles as getty (GETTY_TEST_MAIN) and as the "shell"
// getty execs (GETTY_TEST_HELPER), which reports what it finds on fd 0.
func TestMain(m *testing.M) {
	switch {
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
