package timeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
)

// epoch is the fabricated boots' kernel start on the realtime clock.
var epoch = time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)

// at is the realtime clock s seconds after the fabricated kernel start.
func at(s float64) time.Time { return epoch.Add(time.Duration(s * float64(time.Second))) }

func stamp(s float64) tai64n.Stamp { return tai64n.FromTime(at(s)) }

// fakeBoot lays out a scan directory, a catch-all log directory, a
// kernel log and a procfs in t.TempDir().
type fakeBoot struct {
	t                      *testing.T
	root, scan, logs, kmsg string
	proc                   string
	taken                  float64
	locks                  []*os.File
}

func newFakeBoot(t *testing.T, taken float64) *fakeBoot {
	root := t.TempDir()
	b := &fakeBoot{t: t, root: root, scan: filepath.Join(root, "service"), logs: filepath.Join(root, "uncaught-logs"),
		kmsg: filepath.Join(root, "kmsg"), proc: filepath.Join(root, "proc"), taken: taken}
	for _, d := range []string{b.scan, b.logs, b.proc} {
		must(t, os.MkdirAll(d, 0o755))
	}
	t.Cleanup(func() {
		for _, f := range b.locks {
			f.Close()
		}
	})
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (b *fakeBoot) write(p string, data []byte) {
	b.t.Helper()
	must(b.t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(b.t, os.WriteFile(p, data, 0o644))
}

// svc describes a fabricated service directory.
type svc struct {
	name       string // relative to the scan directory ("a/log" for a logger)
	supervised bool   // a supervisor holds supervise/lock
	notifyFd   bool
	st         servicedir.Status
	deaths     []deathRec
	procStart  float64 // /proc/PID/stat's start time in seconds (0: no file)
}

type deathRec struct {
	at        float64
	code, sig byte
}

// up returns the status of a service spawned at spawn (ready at ready
// when ready >= 0).
func up(pid uint64, spawn, ready float64) servicedir.Status {
	st := servicedir.Status{Stamp: stamp(spawn), ReadyStamp: stamp(spawn), Pid: pid, WantUp: true}
	if ready >= 0 {
		st.ReadyStamp, st.Ready = stamp(ready), true
	}
	return st
}

func (b *fakeBoot) service(s svc) string {
	b.t.Helper()
	dir := filepath.Join(b.scan, s.name)
	b.write(filepath.Join(dir, "run"), []byte("#!/bin/sh\n"))
	if s.notifyFd {
		b.write(filepath.Join(dir, "notification-fd"), []byte("3\n"))
	}
	raw := s.st.Marshal()
	b.write(servicedir.StatusPath(dir), raw[:])
	if s.supervised {
		f, err := os.OpenFile(servicedir.LockPath(dir), os.O_RDWR|os.O_CREATE, 0o644)
		must(b.t, err)
		if err := lockOFD(f); err == unix.EAGAIN {
			f.Close() // laid out again: the first lock holds
		} else {
			must(b.t, err)
			b.locks = append(b.locks, f)
		}
	}
	if len(s.deaths) > 0 {
		var tally []byte
		for _, d := range s.deaths {
			st := stamp(d.at)
			tally = append(tally, st[:]...)
			tally = append(tally, d.code, d.sig)
		}
		b.write(filepath.Join(dir, "supervise", "death_tally"), tally)
	}
	if s.procStart > 0 && s.st.Pid != 0 {
		ticks := int64(s.procStart*userHZ + 0.5)
		// A command name with a space and a parenthesis, as a
		// process may name itself.
		line := fmt.Sprintf("%d (sv (x) y) S 1 %d %d 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
			s.st.Pid, s.st.Pid, s.st.Pid, ticks)
		b.write(filepath.Join(b.proc, fmt.Sprint(s.st.Pid), "stat"), []byte(line))
	}
	return dir
}

// log writes lines to the catch-all log: file is "current" or an
// archive name; each line is (seconds, text).
func (b *fakeBoot) log(file string, lines ...any) {
	b.t.Helper()
	var sb strings.Builder
	for i := 0; i < len(lines); i += 2 {
		sb.WriteString(stamp(lines[i].(float64)).Label())
		sb.WriteString(" ")
		sb.WriteString(lines[i+1].(string))
		sb.WriteString("\n")
	}
	p := filepath.Join(b.logs, file)
	old, _ := os.ReadFile(p)
	b.write(p, append(old, sb.String()...))
}

func (b *fakeBoot) options(marks ...string) Options {
	return Options{Scandir: b.scan, LogDir: b.logs, Kmsg: b.kmsg, Proc: b.proc, Marks: marks,
		Clock: &Clock{Realtime: at(b.taken), Boottime: time.Duration(b.taken * float64(time.Second))}}
}

func (b *fakeBoot) collect(marks ...string) *Timeline {
	b.t.Helper()
	tl, err := Collect(b.options(marks...))
	if err != nil {
		b.t.Fatal(err)
	}
	return tl
}

// standard lays out a boot like the default image's, plus a service that
// restarted, one that is down, a logger, a oneshot and a failed one.
func standard(t *testing.T) *fakeBoot {
	b := newFakeBoot(t, 6.5)
	b.write(b.kmsg, []byte("6,1,0,-;Linux version 6.1.0\n"+
		"6,2,5012,-;Command line: console=ttyS0\n SUBSYSTEM=cpu\n DEVICE=+cpu:0\n"+
		"5,300,812345,-;Run /init as init process\n"+
		"6,301,813000,-;  with arguments:\n"))
	b.service(svc{name: "svscan-log", supervised: true, notifyFd: true, st: up(40, 0.905, 0.931), procStart: 0.90})
	b.service(svc{name: "udev", supervised: true, notifyFd: true, st: up(41, 0.906, 1.850), procStart: 0.91})
	b.service(svc{name: "early-getty", supervised: true, st: up(42, 0.907, -1), procStart: 0.91})
	// Died twice (exit 1, then SIGSEGV), running again since 3.2 s.
	b.service(svc{name: "flaky", supervised: true, notifyFd: true, st: up(77, 3.2, -1),
		deaths: []deathRec{{1.6, 1, 0}, {2.7, 128 + 11, 11}}, procStart: 3.2})
	b.service(svc{name: "web", supervised: true, st: up(50, 2.1, -1), procStart: 2.1})
	b.service(svc{name: "web/log", supervised: true, notifyFd: true, st: up(51, 2.0, 2.05), procStart: 2.0})
	// Ran once, exited 3 at 4.0 s, not restarted.
	b.service(svc{name: "batch", supervised: true,
		st:     servicedir.Status{Stamp: stamp(4.0), ReadyStamp: stamp(4.01), Wstat: 3 << 8, Ready: true},
		deaths: []deathRec{{4.0, 3, 0}}})
	// ./down: never started.
	b.service(svc{name: "idle", supervised: true, st: servicedir.Status{Stamp: stamp(0.9), ReadyStamp: stamp(0.9), Ready: true}})
	b.write(filepath.Join(b.scan, ".svrc", "oneshot", "mnt"), nil)
	must(t, os.Chtimes(filepath.Join(b.scan, ".svrc", "oneshot", "mnt"), at(1.5), at(1.5)))
	b.write(filepath.Join(b.scan, ".svrc", "failed", "net"), []byte("2026-12-07T23:00:02Z up script failed: exit 1\n"))
	must(t, os.Chtimes(filepath.Join(b.scan, ".svrc", "failed", "net"), at(2.4), at(2.4)))
	b.log("@400000006938c1b3000000000000000.s", 1.0, "stage 2: starting")
	b.log("current",
		1.2, "boottest: stage 2 adds services",
		2.75, "svscan: service "+filepath.Join(b.scan, "flaky")+": ./finish exited 1",
		2.8, "svscan: service "+filepath.Join(b.scan, "web/log")+": something about the logger",
		3.0, "not a service line")
	return b
}
