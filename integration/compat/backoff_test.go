package compat

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/servicedir"
)

// TestBackoffS6Svstat: while our svscan holds a crash-looping service in
// its restart backoff (supervise/svinit-restart written, a start due),
// Debian's s6-svstat still reads supervise/status and agrees with our
// svstat on every s6 field; our summary line is s6-svstat's plus the
// restart state.
func TestBackoffS6Svstat(t *testing.T) {
	clientsNeedS6(t)
	bin := t.TempDir()
	clientsBuild(t, bin)
	defer func() { clientsBinDir = "" }()
	testutil.Build(t, bin, nil, "./cmds/svscan")
	scan := t.TempDir()
	dir := clientsService(t, scan, "crash", "#!/bin/sh\nexit 3\n", nil)
	sv := exec.Command(filepath.Join(bin, "svscan"), scan)
	sv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := sv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sv.Wait() }()
	t.Cleanup(func() {
		sv.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(clientsLong):
			sv.Process.Kill()
			<-done
			t.Error("svscan did not exit on SIGTERM")
		}
	})
	// The third quick death: down for about 4 s (the backoff's second
	// step), a start due.
	clientsAwait(t, "three restarts and a start due in supervise/svinit-restart", func() bool {
		r, err := servicedir.ReadRestart(dir)
		return err == nil && r.Restarts >= 3 && r.Due()
	})
	offset := clientsOffset(t)
	theirs := clientsRun(t, "s6-svstat", "-o", clientsAllFields, dir)
	ours := clientsOurs(t, "svstat", "-o", clientsAllFields, dir)
	if theirs.code != 0 || ours.code != 0 || !clientsSameFields(ours.stdout, theirs.stdout, offset) {
		t.Errorf("svstat -o differs:\n ours:   %d %q %q\n s6's:   %d %q %q", ours.code, ours.stdout, ours.stderr, theirs.code, theirs.stdout, theirs.stderr)
	}
	theirs = clientsRun(t, "s6-svstat", dir)
	ours = clientsOurs(t, "svstat", dir)
	s6line, _, _ := strings.Cut(ours.stdout, ", restarts ")
	if theirs.code != 0 || !strings.HasPrefix(theirs.stdout, "down (exitcode 3) ") || !strings.Contains(theirs.stdout, ", want up") {
		t.Errorf("s6-svstat: %d %q %q, want down (exitcode 3), want up", theirs.code, theirs.stdout, theirs.stderr)
	}
	if ours.code != 0 || !strings.Contains(ours.stdout, ", restarts ") || !strings.Contains(ours.stdout, " in a row), delay ") ||
		!clientsSameHuman(strings.TrimSuffix(s6line, "\n")+"\n", theirs.stdout, offset) {
		t.Errorf("svstat:\n ours: %d %q %q\n s6's: %q, want s6's line then the restart state", ours.code, ours.stdout, ours.stderr, theirs.stdout)
	}
}
