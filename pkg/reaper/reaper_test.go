package reaper

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/spawn"
	"golang.org/x/sys/unix"
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
		pid, err := r.Spawn(sh, []string{sh, "-c", tc.script}, &spawn.Attr{Files: []int{0, 1, 2}}, func(e Exit) { done <- e })
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
	_, err := r.Spawn("/nonexistent", []string{"x"}, &spawn.Attr{}, nil)
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
	attr := &spawn.Attr{Files: []int{0, 1, 2}}
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

// TestSpawnAttrs: the spawn attributes (directory, session or process
// group, closed descriptor) reach the child; a spawn that fails leaves
// nothing to reap.
func TestSpawnAttrs(t *testing.T) {
	r := New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	dir := t.TempDir()
	// pid, process group and session of the shell, and its directory.
	script := `read -r l < /proc/self/stat; set -- ${l#*) }; echo "$$ $3 $4 $PWD"; [ -e /proc/$$/fd/3 ] && echo fd3`
	for _, tc := range []struct {
		name string
		attr spawn.Attr
		want func(pid, pgrp, sid string) bool
	}{
		{"plain", spawn.Attr{}, func(pid, pgrp, sid string) bool { return pgrp != pid && sid != pid }},
		{"setsid", spawn.Attr{Setsid: true}, func(pid, pgrp, sid string) bool { return pgrp == pid && sid == pid }},
		{"setpgid", spawn.Attr{Setpgid: true}, func(pid, pgrp, sid string) bool { return pgrp == pid && sid != pid }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			done := make(chan Exit, 1)
			attr := tc.attr
			attr.Dir, attr.Files = dir, []int{0, int(pw.Fd()), 2, -1}
			if _, err := r.Spawn("/bin/sh", []string{"sh", "-c", script}, &attr, func(e Exit) { done <- e }); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			out, _ := io.ReadAll(pr)
			<-done
			f := strings.Fields(string(out))
			if len(f) != 4 || !tc.want(f[0], f[1], f[2]) || f[3] != dir {
				t.Errorf("child said %q (pid pgrp sid dir); dir %s", out, dir)
			}
		})
	}
	if _, err := r.Spawn(dir+"/nope", []string{"nope"}, &spawn.Attr{}, func(Exit) { t.Error("exit delivered for a spawn that failed") }); err == nil {
		t.Error("spawning a missing program succeeded")
	}
	if r.Pending() != 0 {
		t.Errorf("Pending = %d", r.Pending())
	}
}

// TestNoFile: the Reaper's NoFile is the limit of every child whose
// attributes name none; a child's own NoFile wins; without either the
// child has the parent's.
func TestNoFile(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 200 {
		t.Fatalf("hard RLIMIT_NOFILE %d: the test needs 200", lim.Max)
	}
	own := unix.Rlimit{Cur: 150, Max: 200}
	hard := strconv.FormatUint(lim.Max, 10)
	for _, tc := range []struct {
		name   string
		reaper *unix.Rlimit
		attr   *unix.Rlimit
		want   string
	}{
		{"reaper's", &unix.Rlimit{Cur: 100, Max: 200}, nil, "100 200"},
		{"child's own", &unix.Rlimit{Cur: 100, Max: 200}, &own, "150 200"},
		{"parent's", nil, nil, strconv.FormatUint(lim.Cur, 10) + " " + hard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := New()
			r.NoFile = tc.reaper
			stop := make(chan struct{})
			defer close(stop)
			go r.Run(stop, nil)
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			done := make(chan Exit, 1)
			attr := &spawn.Attr{Files: []int{0, int(pw.Fd()), 2}, NoFile: tc.attr}
			if _, err := r.Spawn("/bin/sh", []string{"sh", "-c", `echo "$(ulimit -Sn) $(ulimit -Hn)"`}, attr, func(e Exit) { done <- e }); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			out, _ := io.ReadAll(pr)
			<-done
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("child's soft and hard limits %q, want %q", got, tc.want)
			}
			if attr.NoFile != tc.attr {
				t.Errorf("Spawn changed the caller's Attr.NoFile")
			}
		})
	}
}
