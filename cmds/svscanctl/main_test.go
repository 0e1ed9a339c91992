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

// -R and -E put their path in a request file of .s6-svscan before the
// letter; -X alone removes a stale -E request.
func TestSvscanctlRequests(t *testing.T) {
	dir, f := scanDir(t, true)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, ".s6-svscan", name))
		if err != nil {
			return "(none)"
		}
		return string(b)
	}
	buf := make([]byte, 64)
	for _, tc := range []struct {
		args         []string
		letters      string
		root, execRq string
	}{
		{[]string{"-R", "/new/root"}, "R", "/new/root\n", "(none)"},
		{[]string{"-E/sbin/svscan"}, "U", "(none)", "/sbin/svscan\n"},
		{[]string{"-X"}, "U", "(none)", "(none)"},
		{[]string{"-aR/r", "-E", "/p"}, "aRU", "/r\n", "/p\n"},
	} {
		os.Remove(filepath.Join(dir, ".s6-svscan", "svinit-root"))
		if code, msg := runCtl(append(tc.args, dir)...); code != 0 {
			t.Fatalf("%q: exit %d %s", tc.args, code, msg)
		}
		n, err := f.Read(buf)
		if err != nil || string(buf[:n]) != tc.letters {
			t.Errorf("%q: scanner read %q, %v; want %q", tc.args, buf[:n], err, tc.letters)
		}
		if got := read("svinit-root"); got != tc.root {
			t.Errorf("%q: svinit-root %q, want %q", tc.args, got, tc.root)
		}
		if got := read("svinit-exec"); got != tc.execRq {
			t.Errorf("%q: svinit-exec %q, want %q", tc.args, got, tc.execRq)
		}
	}
	for _, args := range [][]string{{"-R", "rel"}, {"-E", "rel"}, {"-XX"}, {"-R/a", "-R/b"}, {"-R"}} {
		if code, _ := runCtl(append(args, dir)...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, cli.ExitUsage)
		}
	}
	// Nothing listening: no request file is left behind.
	quiet, _ := scanDir(t, false)
	if code, _ := runCtl("-R", "/r", quiet); code != cli.ExitUsage {
		t.Errorf("-R with no scanner: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(quiet, ".s6-svscan", "svinit-root")); err == nil {
		t.Errorf("-R with no scanner left svinit-root behind")
	}
}
