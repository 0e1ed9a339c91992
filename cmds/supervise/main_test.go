package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "supervise")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func waitStatus(t *testing.T, dir string, cond func(servicedir.Status) bool) servicedir.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := servicedir.ReadStatus(dir); err == nil && cond(st) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: status condition not reached", dir)
	return servicedir.Status{}
}

func TestSuperviseCommand(t *testing.T) {
	bin := build(t)
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
