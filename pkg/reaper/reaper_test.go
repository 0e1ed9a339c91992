package reaper

import (
	"os"
	"syscall"
	"testing"
	"time"
)

func TestSpawnAndReap(t *testing.T) {
	r := New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	sh := "/bin/sh"
	for _, tc := range []struct {
		script string
		check  func(syscall.WaitStatus) bool
	}{
		{"exit 3", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 3 }},
		{"kill -TERM $$", func(ws syscall.WaitStatus) bool { return ws.Signaled() && ws.Signal() == syscall.SIGTERM }},
		{"true", func(ws syscall.WaitStatus) bool { return ws.Exited() && ws.ExitStatus() == 0 }},
	} {
		done := make(chan Exit, 1)
		pid, err := r.Spawn(sh, []string{sh, "-c", tc.script}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}, done)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-done:
			if e.Pid != pid || !tc.check(e.Status) {
				t.Errorf("%q: exit %+v (pid %d)", tc.script, e, pid)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%q: no exit delivered", tc.script)
		}
	}
	if r.Pending() != 0 {
		t.Errorf("Pending = %d", r.Pending())
	}
}

func TestSpawnError(t *testing.T) {
	r := New()
	_, err := r.Spawn("/nonexistent", []string{"x"}, &syscall.ProcAttr{}, make(chan Exit, 1))
	if !os.IsNotExist(err) {
		t.Errorf("err = %v, want ENOENT", err)
	}
}
