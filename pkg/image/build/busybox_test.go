package build

import (
	"errors"
	"os/exec"
	"slices"
	"syscall"
	"testing"
)

// TestInterruptChildren: a signal sent to mkimage alone reaches the go
// command it runs (here: a sleep standing for it) as SIGINT.
func TestInterruptChildren(t *testing.T) {
	cmd := exec.Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if pids := childPIDs(syscall.Getpid()); !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("childPIDs = %v, want it to hold %d", pids, cmd.Process.Pid)
	}
	interruptChildren()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGINT {
		t.Errorf("sleep ended with %v, want killed by SIGINT", err)
	}
	if pids := childPIDs(1 << 30); len(pids) != 0 {
		t.Errorf("children of a pid that does not exist: %v", pids)
	}
}
