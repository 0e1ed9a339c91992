package getty

import (
	"bufio"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestPendingKill(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         bool
	}{
		{"nothing pending", "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n", false},
		{"SIGINT for the process", "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000002\n", true},
		{"SIGINT for the thread", "SigPnd:\t0000000000000002\nShdPnd:\t0000000000000000\n", true},
		{"SIGKILL: dying", "SigPnd:\t0000000000000100\nShdPnd:\t0000000000000000\n", true},
		{"other signals only", "SigPnd:\t0000000000000001\nShdPnd:\t0000000000004000\n", false},
		{"blocked SIGINT is not pending", "SigBlk:\t0000000000000002\nSigPnd:\t0000000000000000\n", false},
	} {
		if got := pendingKill(tc.status); got != tc.want {
			t.Errorf("%s: pendingKill = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestSettle: a process of the group with a SIGINT still to take (here
// held by SIGSTOP) keeps settle from returning true; once it takes the
// signal, settle returns true.
func TestSettle(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatalf("no sh (install the dash package): %v", err)
	}
	cmd := exec.Command("sh", "-c", `trap "exit 3" INT; echo up; read x`)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(outp).ReadString('\n'); err != nil || line != "up\n" {
		t.Fatalf("sh said %q, %v", line, err)
	}
	pid := cmd.Process.Pid
	pgrp, self := unix.Getpgrp(), unix.Getpid()
	if !settle("/proc", pgrp, self, time.Minute) {
		t.Fatal("settle: false with no signal pending")
	}
	if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WUNTRACED, nil); err != nil || !ws.Stopped() {
		t.Fatalf("sh not stopped: %v %v", ws, err)
	}
	if err := unix.Kill(pid, unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	if settle("/proc", pgrp, self, 20*time.Millisecond) {
		t.Error("settle: true while a process of the group has a SIGINT pending")
	}
	if err := unix.Kill(pid, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if !settle("/proc", pgrp, self, time.Minute) {
		t.Error("settle: false once the SIGINT was taken")
	}
	err = cmd.Wait()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("sh did not take its SIGINT (trap exits 3): %v", err)
	}
}
