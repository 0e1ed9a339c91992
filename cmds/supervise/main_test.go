package main

import (
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

func waitStatus(t *testing.T, dir string, cond func(servicedir.Status) bool) servicedir.Status {
	t.Helper()
	var st servicedir.Status
	testutil.WaitFor(t, dir+": status condition", 30*time.Second, func() bool {
		var err error
		st, err = servicedir.ReadStatus(dir)
		return err == nil && cond(st)
	}, nil)
	return st
}

func TestSuperviseCommand(t *testing.T) {
	bin := testutil.Command(t, "supervise")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 100, "usage"},
		{[]string{"a", "b"}, 100, "usage"},
		{[]string{filepath.Join(t.TempDir(), "missing")}, 111, "no such file"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != tc.code || !strings.Contains(string(out), tc.msg) {
			t.Errorf("supervise %q: %v %q, want exit %d with %q", tc.args, err, out, tc.code, tc.msg)
		}
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\nexec sleep 1000\n"), 0o755)
	cmd := exec.Command(bin, dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	st := waitStatus(t, dir, func(s servicedir.Status) bool { return s.Up() })
	// A second supervisor on the same directory is refused.
	out, err := exec.Command(bin, dir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 111 || !strings.Contains(string(out), "already supervised") {
		t.Errorf("second supervise: %v %q", err, out)
	}
	// SIGTERM: bring the service down, then exit 0.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("supervise after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("supervise did not exit on SIGTERM")
	}
	if syscall.Kill(int(st.Pid), 0) == nil {
		t.Errorf("service pid %d still alive after supervise exited", st.Pid)
	}
}
