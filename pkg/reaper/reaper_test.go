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
		pid, err := r.Spawn(sh, []string{sh, "-c", tc.script}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}, func(e Exit) { done <- e })
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
	_, err := r.Spawn("/nonexistent", []string{"x"}, &syscall.ProcAttr{}, nil)
	if !os.IsNotExist(err) {
		t.Errorf("err = %v, want ENOENT", err)
	}
}

// TestCallbackSpawns: an exit callback runs without the reaper's lock, so
// it can spawn the next child (a supervisor restarting a service does).
func TestCallbackSpawns(t *testing.T) {
	r := New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	attr := &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}
	done := make(chan Exit, 1)
	left := 3
	var respawn func(Exit)
	respawn = func(e Exit) {
		left--
		if left == 0 {
			done <- e
			return
		}
		if _, err := r.Spawn("/bin/true", []string{"true"}, attr, respawn); err != nil {
			t.Error(err)
			done <- e
		}
	}
	if _, err := r.Spawn("/bin/true", []string{"true"}, attr, respawn); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("respawning from the exit callback stalled (%d left)", left)
	}
}
