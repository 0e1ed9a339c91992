// Package scripts holds the tests of the shell scripts make runs.
package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// runDeps runs deps.sh with args as a user other than root (nobody when
// the test runs as root), and returns its exit code and output.
func runDeps(t *testing.T, args ...string) (int, string) {
	t.Helper()
	// A copy in a directory nobody can enter (the checkout may not be).
	dir, err := os.MkdirTemp("", "deps-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script, err := os.ReadFile("deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/deps.sh", script, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", dir+"/deps.sh")
	cmd.Args = append(cmd.Args, args...)
	cmd.Dir = "/"
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatalf("deps.sh %v: %v", args, err)
	}
	return 0, out.String()
}

// TestDepsNotRoot: a user other than root gets the one apt-get line for
// exactly the missing packages, exit 1; with nothing missing, silence
// and exit 0. (The install itself, as root, is what make test does.)
func TestDepsNotRoot(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Fatalf("dpkg-query not found: %v (the tests run on Debian; apt-get install dpkg)", err)
	}
	code, out := runDeps(t, "dpkg", "svinit-no-such-package", "coreutils", "svinit-no-such-package-2")
	want := "apt-get install -y --no-install-recommends svinit-no-such-package svinit-no-such-package-2\n"
	if code != 1 || !strings.Contains(out, "\n    "+want) || strings.Count(out, "apt-get install") != 1 {
		t.Errorf("deps.sh with missing packages, not root: exit %d, output\n%s\nwant exit 1 and the line %q", code, out, want)
	}
	// dpkg and coreutils are essential: always installed.
	if code, out := runDeps(t, "dpkg", "coreutils"); code != 0 || out != "" {
		t.Errorf("deps.sh with nothing missing: exit %d, output %q; want 0 and nothing", code, out)
	}
}
