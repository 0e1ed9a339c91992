package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
	"golang.org/x/sys/unix"
)

func runCtl(args ...string) (int, string) {
	var out, errb bytes.Buffer
	err := run(append([]string{"svscanctl"}, args...), strings.NewReader(""), &out, &errb)
	return cli.Report(&errb, "svscanctl", err), errb.String()
}

func scanDir(t *testing.T, listen bool) (string, *os.File) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".s6-svscan"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, ".s6-svscan", "control")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if !listen {
		return dir, nil
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return dir, f
}

func TestSvscanctl(t *testing.T) {
	dir, f := scanDir(t, true)
	code, msg := runCtl("-zabh", "-i", "-tqnN", dir)
	if code != 0 {
		t.Fatalf("exit %d %s", code, msg)
	}
	buf := make([]byte, 64)
	n, err := f.Read(buf)
	if err != nil || string(buf[:n]) != "zabhitqnN" {
		t.Fatalf("scanner read %q, %v", buf[:n], err)
	}
	if code, msg := runCtl(dir); code != 0 {
		t.Fatalf("no letters: exit %d %s", code, msg)
	}
}

func TestSvscanctlErrors(t *testing.T) {
	quiet, _ := scanDir(t, false)
	noCtl := t.TempDir()
	os.Mkdir(filepath.Join(noCtl, ".s6-svscan"), 0o755)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no svscan", []string{"-a", quiet}, cli.ExitUsage, "no svscan running"},
		{"no .s6-svscan", []string{"-a", t.TempDir()}, cli.ExitUsage, "no svscan running"},
		{"no control FIFO", []string{"-a", noCtl}, cli.ExitUsage, "control"},
		{"no such dir", []string{"-a", filepath.Join(noCtl, "nope")}, cli.ExitSystem, "nope"},
		{"bad letter", []string{"-p", quiet}, cli.ExitUsage, "unknown option -p"},
		{"no dir", []string{"-a"}, cli.ExitUsage, "usage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := runCtl(tc.args...)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("exit %d %q; want %d, %q", code, msg, tc.code, tc.msg)
			}
		})
	}
}
