package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
)

// TestTemplateSvscanLog runs templates/svscan-log/run with Debian's
// execline, svlog on PATH, the console and the log directory pointed at
// temporary files, and checks the catch-all logger's contract: readiness
// on fd 3, TAI64N-stamped lines in the log directory, SIGTERM ignored,
// clean exit at EOF.
func TestTemplateSvscanLog(t *testing.T) {
	t.Run("debian execline", func(t *testing.T) {
		execlineb := needTool(t, "execlineb")
		path := os.Getenv("PATH")
		if fi, err := os.Stat("/usr/lib/execline/bin"); err == nil && fi.IsDir() {
			path += ":/usr/lib/execline/bin" // where Debian keeps execline's commands
		}
		t.Setenv("PATH", path)
		needTool(t, "redirfd")
		templateSvscanLog(t, execlineb, path)
	})
	// The image runs the template with svinit's own execlineb, redirfd
	// and fdmove.
	t.Run("svinit execline", func(t *testing.T) {
		bin := testutil.Commands(t, "execlineb", "redirfd", "fdmove")
		templateSvscanLog(t, filepath.Join(bin, "execlineb"), bin+":/usr/bin:/bin")
	})
}

func templateSvscanLog(t *testing.T, execlineb, path string) {
	tmpl := filepath.Join("..", "..", "templates", "svscan-log")
	run, err := os.ReadFile(filepath.Join(tmpl, "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(run), "#!/bin/execlineb -P\n") {
		t.Errorf("run does not start with the execlineb shebang: %q", run)
	}
	if fi, err := os.Stat(filepath.Join(tmpl, "run")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("run is not executable: %v", err)
	}
	if nfd, err := os.ReadFile(filepath.Join(tmpl, "notification-fd")); err != nil || string(nfd) != "3\n" {
		t.Errorf("notification-fd = %q, %v", nfd, err)
	}

	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	os.Mkdir(bin, 0o755)
	exe, _ := os.Executable()
	if err := os.Symlink(exe, filepath.Join(bin, "svlog")); err != nil {
		t.Fatal(err)
	}
	svc := filepath.Join(tmp, "svscan-log")
	os.Mkdir(svc, 0o755)
	console := filepath.Join(tmp, "console")
	logs := filepath.Join(tmp, "uncaught-logs")
	script := strings.NewReplacer("/dev/console", console, "/run/uncaught-logs", logs).Replace(string(run))
	if err := os.WriteFile(filepath.Join(svc, "run"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(svc, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}

	nr, nw, _ := os.Pipe()
	cmd := exec.Command(execlineb, "-P", "./run")
	cmd.Dir = svc
	cmd.Env = append(os.Environ(), selfEnv+"=1", "PATH="+bin+":"+path)
	cmd.ExtraFiles = []*os.File{nw}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	nw.Close()
	ready := make(chan string, 1)
	go func() { b, _ := io.ReadAll(nr); ready <- string(b) }()
	select {
	case r := <-ready:
		if r != "\n" {
			t.Fatalf("readiness = %q; stderr %q", r, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("no readiness notification; stderr %q", stderr.String())
	}
	// The scanner's side: open the FIFO for writing.
	w, err := os.OpenFile(filepath.Join(svc, "fifo"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(w)
	for i := 0; i < 1000; i++ {
		bw.WriteString("uncaught line\n")
	}
	bw.Flush()
	cmd.Process.Signal(syscall.SIGTERM) // -p: ignored
	w.WriteString("after term\n")
	w.Close()
	if code := waitExit(t, cmd); code != 0 {
		c, _ := os.ReadFile(console)
		t.Fatalf("exit %d; stderr %q; console %s", code, stderr.String(), c)
	}
	b, err := os.ReadFile(filepath.Join(logs, "current"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1001 || !strings.HasSuffix(lines[1000], " after term") {
		t.Errorf("%d lines logged, last %q", len(lines), lines[len(lines)-1])
	}
	for _, l := range lines {
		if len(l) < 26 || l[0] != '@' || l[25] != ' ' {
			t.Fatalf("line without TAI64N label: %q", l)
		}
	}
	if c, _ := os.ReadFile(console); len(c) != 0 {
		t.Errorf("console got %q", c)
	}
}
