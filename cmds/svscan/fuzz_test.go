package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// fuzzNames are the names a fuzzed service directory is built from, in
// order (a parent before what it holds).
var fuzzNames = []string{
	"run", "finish", "notification-fd", "lock-fd", "timeout-kill", "timeout-finish",
	"max-death-tally", "down-signal", "down", "log", "log/run", "log/notification-fd",
	"supervise", "supervise/death_tally", "supervise/status", "supervise/control", "event",
}

// buildFuzzService makes dir from data: for each name one byte chooses
// what it is (nothing, a file with the bytes that follow, a script that
// runs or exits, a FIFO, a link to /dev/zero, to a sibling or to
// nothing, a directory, a huge file). It returns the data left.
func buildFuzzService(t *testing.T, dir string, data []byte) []byte {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range fuzzNames {
		p := filepath.Join(dir, name)
		if fi, err := os.Lstat(filepath.Dir(p)); err != nil || !fi.IsDir() {
			continue // its parent is not a plain directory
		}
		var err error
		switch next() % 11 {
		case 0: // nothing
		case 1: // a file with arbitrary content
			mode := os.FileMode(next())&0o777 | 0o400
			n := int(next() % 24)
			if n > len(data) {
				n = len(data)
			}
			err = os.WriteFile(p, data[:n], mode)
			data = data[n:]
		case 2:
			err = os.WriteFile(p, []byte(sleeper), 0o755)
		case 3:
			err = os.WriteFile(p, []byte(fmt.Sprintf("#!/bin/sh\nexit %d\n", next())), 0o755)
		case 4:
			err = syscall.Mkfifo(p, 0o644)
		case 5:
			err = os.Symlink("/dev/zero", p)
		case 6:
			err = os.Mkdir(p, 0o755)
		case 7:
			err = os.Symlink("/nonexistent/svscan-fuzz", p)
		case 8:
			err = os.Symlink(fuzzNames[int(next())%len(fuzzNames)], p)
		case 9:
			var f *os.File
			if f, err = os.Create(p); err == nil {
				err = f.Truncate(1 << 30)
				f.Close()
			}
		case 10: // a number, as the value files hold
			err = os.WriteFile(p, []byte(fmt.Sprintf("%d\n", next())), 0o644)
		}
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	return data
}

// FuzzServiceDirs builds random service directories under a running
// scanner: whatever they hold, a bystander service must stay supervised
// (stopped and started again through the scanner's shared goroutines),
// a later service must still be picked up by a scan, and svscanctl -q
// must still end the scanner (not -t: a fuzzed log/run may never read
// its input, and -t, like s6-svscan's, waits for loggers to exit on end
// of file). go test runs the seeds only.
func FuzzServiceDirs(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 4, 4, 4, 4, 4, 4, 4, 4, 6, 2, 4, 6, 4, 4, 4, 4})             // FIFOs everywhere
	f.Add([]byte{2, 5, 5, 5, 5, 5, 5, 5, 5, 6, 2, 5, 6, 5, 5, 5, 5})             // /dev/zero everywhere
	f.Add([]byte{3, 1, 7, 9, 9, 9, 9, 9, 9, 9, 7, 7, 9, 5, 7, 4, 7, 7, 7})       // exits, links, huge files
	f.Add([]byte{2, 0, 10, 3, 10, 200, 10, 0, 10, 7, 1, 3, 'K', 'I', 'L', 0o44}) // values
	f.Add([]byte{2, 3, 1, 10, 1, 1, 2, 10, 4, 10, 0, 10, 9, 0, 1, 4, 'H', 'U', 'P', '\n', 0o44, 6, 3, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		service(t, d, map[string]string{"ok/run": sleeper})
		s := startScan(t, d)
		s.timeout = 10 * time.Second // a fuzzing run is short
		ok := filepath.Join(d, "ok")
		s.waitFor("ok up", isUp(ok))
		rest := buildFuzzService(t, filepath.Join(d, "f1"), data)
		buildFuzzService(t, filepath.Join(d, "f2"), rest)
		service(t, d, map[string]string{"probe/run": sleeper})
		s.control("a")
		s.waitFor("probe up after the scan", isUp(filepath.Join(d, "probe")))
		// The bystander goes down and up through the shared goroutines
		// (control poller, reaper, spawner).
		st, _ := status(ok)
		fifo, err := os.OpenFile(filepath.Join(ok, "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		fifo.WriteString("d")
		s.waitFor("ok down", func() bool { return syscall.Kill(int(st.Pid), 0) == syscall.ESRCH })
		fifo.WriteString("u")
		fifo.Close()
		s.waitFor("ok up again", func() bool { n, good := status(ok); return good && n.Up() && n.Pid != st.Pid })
		s.control("q")
		s.waitExit()
	})
}
