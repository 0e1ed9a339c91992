package main_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A supervisor that exits while its service is active is started again
// (s6-svscan restarts a dead s6-supervise within a second), without a
// rescan: the scanner here never rescans by itself.
func TestSupervisorRestartedAfterExit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		target  string // the service whose supervisor is told to exit
		letters string // written to its supervise/control
		kill    bool   // then kill ./run (x alone waits for it to die)
	}{
		{"x, then run dies", "a", "x", true},
		{"dx", "a", "dx", false},
		{"garbage holding x", "a", "\x01zz\xffx\x00", true},
		{"logger x, then it dies", "b/log", "x", true},
		{"service of a logged pair dx", "b", "dx", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			service(t, d, map[string]string{
				"a/run":     sleeper,
				"b/run":     "#!/bin/sh\necho hello\nexec sleep 1000\n",
				"b/log/run": "#!/bin/sh\nexec cat > " + filepath.Join(d, "b.log") + "\n",
			})
			s := startScan(t, d)
			dir := filepath.Join(d, tc.target)
			for _, n := range []string{"a", "b", "b/log"} {
				s.waitFor(n+" up", isUp(filepath.Join(d, n)))
			}
			before, _ := status(dir)
			f, err := os.OpenFile(filepath.Join(dir, "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tc.letters)
			f.Close()
			if tc.kill {
				syscall.Kill(int(before.Pid), syscall.SIGKILL)
			}
			// Back: a new supervisor started ./run again.
			s.waitFor("service up again under a new supervisor", func() bool {
				st, ok := status(dir)
				return ok && st.Up() && st.Pid != before.Pid
			})
			// And it is supervised: killing ./run restarts it.
			st, _ := status(dir)
			syscall.Kill(int(st.Pid), syscall.SIGKILL)
			s.waitFor("restarted after a kill", func() bool {
				n, ok := status(dir)
				return ok && n.Up() && n.Pid != st.Pid
			})
			// The other services were not disturbed.
			for _, n := range []string{"a", "b", "b/log"} {
				if n != tc.target {
					s.waitFor(n+" still up", isUp(filepath.Join(d, n)))
				}
			}
		})
	}
}
