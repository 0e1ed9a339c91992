package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// What a hostile (or careless) user can leave in a service directory,
// under every name a service directory may hold: the scanner must go on
// supervising the other services (a killed one comes back) and still
// obey svscanctl -t and SIGTERM. Each case plants the thing in one
// service before the scanner starts and in another while it runs (then
// kills that service's ./run, so that its supervisor meets the thing at
// the restart).

// hostileNames are the names a service directory may hold, relative to
// it (log/... for the logger's own).
var hostileNames = []string{
	"run", "finish", "notification-fd", "timeout-kill", "timeout-finish",
	"max-death-tally", "down-signal", "down", "lock-fd", "log", "log/run",
	"log/notification-fd", "supervise", "supervise/lock", "supervise/control",
	"supervise/status", "supervise/death_tally", "event", "log/supervise", "log/event",
}

// hostileKinds make path into something hostile.
var hostileKinds = []struct {
	name  string
	plant func(path string) error
}{
	{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	{"link to /dev/zero", func(p string) error { return os.Symlink("/dev/zero", p) }},
	{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
	{"dangling link", func(p string) error { return os.Symlink("/nonexistent/svscan-test", p) }},
	{"huge file", func(p string) error {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
		if err != nil {
			return err
		}
		defer f.Close()
		// 1 GiB of digits would parse as a number; a sparse GiB of NULs
		// is as large to read.
		f.WriteString("1234567890")
		return f.Truncate(1 << 30)
	}},
}

// plant replaces dir/name with a hostile thing of kind k.
func plant(t *testing.T, dir, name string, k int) {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := hostileKinds[k].plant(p); err != nil {
		t.Fatalf("plant %s: %v", p, err)
	}
}

func TestHostileServiceDirs(t *testing.T) {
	kinds := len(hostileKinds)
	if testing.Short() {
		kinds = 2 // a FIFO and a link to /dev/zero: the ones that froze or killed
	}
	i := 0
	for _, name := range hostileNames {
		for k, kind := range hostileKinds[:kinds] {
			viaSignal := i%2 == 0
			i++
			t.Run(strings.ReplaceAll(name, "/", "_")+"/"+kind.name, func(t *testing.T) {
				t.Parallel()
				hostileCase(t, name, k, viaSignal)
			})
		}
	}
}

func hostileCase(t *testing.T, name string, k int, viaSignal bool) {
	d := t.TempDir()
	files := map[string]string{"ok/run": sleeper}
	for _, v := range []string{"early", "late"} {
		files[v+"/run"] = sleeper
		files[v+"/log/run"] = "#!/bin/sh\nexec cat > /dev/null\n"
	}
	service(t, d, files)
	plant(t, filepath.Join(d, "early"), name, k)
	s := startScan(t, d)
	ok, late := filepath.Join(d, "ok"), filepath.Join(d, "late")
	s.waitFor("ok up", isUp(ok))
	s.waitFor("late up", func() bool { return isUp(late)() && isUp(filepath.Join(late, "log"))() })
	// Planted while late runs; then late's ./run (and its logger's, for
	// a log/ name) dies, and its supervisor meets the thing.
	var victims []int
	for _, dir := range []string{late, filepath.Join(late, "log")} {
		st, _ := status(dir)
		victims = append(victims, int(st.Pid))
	}
	plant(t, late, name, k)
	for _, pid := range victims {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range victims {
		s.waitFor(fmt.Sprintf("late's process %d reaped", pid), func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH })
	}
	// The others are still supervised: a killed service comes back.
	st, _ := status(ok)
	syscall.Kill(int(st.Pid), syscall.SIGKILL)
	s.waitFor("ok restarted after a kill", func() bool {
		n, good := status(ok)
		return good && n.Up() && n.Pid != st.Pid
	})
	// And the scanner still obeys.
	if viaSignal {
		s.cmd.Process.Signal(syscall.SIGTERM)
	} else {
		s.control("t")
	}
	s.waitExit()
}
