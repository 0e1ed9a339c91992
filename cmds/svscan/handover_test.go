package main_test

// svscanctl -X (re-exec in place, every service kept) and -R (root
// switch), on the real binary.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// handoverServices are the services both tests run: "lines" writes
// numbered lines through its logger without pause, "a" sleeps, "off" is
// down (./down), "late" crashes into a restart delay, "ready" becomes
// ready when it gets SIGUSR1 (its notification pipe crosses the exec).
func handoverServices(t *testing.T, d string) {
	service(t, d, map[string]string{
		"lines/run":             "#!/bin/sh\ni=0\nwhile :; do seq $i $((i+99)); i=$((i+100)); sleep 0.01; done\n",
		"lines/log/run":         "#!/bin/sh\nexec cat >> " + filepath.Join(d, "lines.out") + "\n",
		"a/run":                 sleeper,
		"off/run":               sleeper,
		"off/down":              "",
		"late/run":              "#!/bin/sh\ndate +%s.%N >> " + filepath.Join(d, "late.starts") + "\nexit 1\n",
		"ready/run":             "#!/bin/sh\ntrap 'echo >&3' USR1\nwhile :; do sleep 1 & wait $!; done\n",
		"ready/notification-fd": "3\n",
	})
}

// consecutive reports how many complete lines file holds if they are
// 0, 1, 2... with none missing or repeated; -1 otherwise.
func consecutive(file string) int {
	b, _ := os.ReadFile(file)
	s := string(b)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[:i] // a last line being written is not complete yet
	} else {
		return 0
	}
	for i, l := range strings.Split(s, "\n") {
		if l != strconv.Itoa(i) {
			return -1
		}
	}
	return strings.Count(s, "\n") + 1
}

// lateStarts are the times late/run started.
func lateStarts(t *testing.T, d string) []time.Time {
	b, _ := os.ReadFile(filepath.Join(d, "late.starts"))
	var ts []time.Time
	for _, l := range strings.Fields(string(b)) {
		f, err := strconv.ParseFloat(l, 64)
		if err != nil {
			t.Fatalf("late.starts: %q: %v", l, err)
		}
		ts = append(ts, time.Unix(0, int64(f*1e9)))
	}
	return ts
}

func s6svstat(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("s6-svstat")
	if err != nil {
		t.Fatal("s6-svstat not found: install the Debian package s6")
	}
	out, err := exec.Command(bin, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("s6-svstat %s: %v %s", dir, err, out)
	}
	return string(out)
}

// reexec drives the -X proof on a running scanner s over d: every
// service survives with its pid, no line is lost, the delayed start
// happens when due, and the services obey afterwards.
func reexec(t *testing.T, s *scan, d string, letters string) {
	for _, n := range []string{"lines", "lines/log", "a", "ready"} {
		s.waitFor(n+" up", isUp(filepath.Join(d, n)))
	}
	s.waitFor("off supervised, down", func() bool { st, ok := status(filepath.Join(d, "off")); return ok && !st.Up() })
	out := filepath.Join(d, "lines.out")
	s.waitFor("lines logged", func() bool { return consecutive(out) > 1000 })
	// late in a restart delay that ends well after the exec.
	var due time.Time
	s.waitFor("late in a restart delay of a second or more", func() bool {
		r, err := servicedir.ReadRestart(filepath.Join(d, "late"))
		if err != nil || !r.Due() {
			return false
		}
		due = r.Next.Time()
		return time.Until(due) > time.Second
	})
	startsBefore := len(lateStarts(t, d))
	before := map[string]uint64{}
	for _, n := range []string{"lines", "lines/log", "a", "ready"} {
		st, _ := status(filepath.Join(d, n))
		before[n] = st.Pid
	}
	linesBefore := consecutive(out)
	s.control(letters)
	s.waitFor("the new image's report", func() bool { return strings.Contains(s.out.String(), "re-executed: 6 service(s) adopted") })
	s.alive("svscanctl -X")
	for n, pid := range before {
		if st, _ := status(filepath.Join(d, n)); st.Pid != pid || !st.Up() {
			t.Errorf("%s: pid %d up %v after the re-exec, was %d", n, st.Pid, st.Up(), pid)
		}
		if got, want := s6svstat(t, filepath.Join(d, n)), fmt.Sprintf("up (pid %d)", pid); !strings.HasPrefix(got, want) {
			t.Errorf("s6-svstat %s: %q, want %q...", n, got, want)
		}
	}
	if st, _ := status(filepath.Join(d, "off")); st.Up() {
		t.Errorf("off started by the re-exec")
	}
	// No line lost or repeated across the exec, and lines still flow.
	s.waitFor("lines logged across the re-exec, none lost", func() bool {
		n := consecutive(out)
		if n < 0 {
			t.Fatalf("lines.out is not 0, 1, 2...: a line was lost or repeated across the re-exec; output:\n%s", s.out)
		}
		return n > linesBefore+2000
	})
	// The delayed start happens when it is due, not before, not never
	// (the upper bound only catches a timer lost and replaced by
	// something else: a loaded machine starts the script seconds late).
	s.waitFor("late started again", func() bool { return len(lateStarts(t, d)) > startsBefore })
	if first := lateStarts(t, d)[startsBefore]; first.Before(due.Add(-50*time.Millisecond)) || first.After(due.Add(10*time.Second)) {
		t.Errorf("late started at %v, due at %v", first.Format(time.StampMilli), due.Format(time.StampMilli))
	}
	// Readiness through the notification pipe handed over.
	svc(t, filepath.Join(d, "ready"), "1") // SIGUSR1
	s.waitFor("ready ready", func() bool { st, ok := status(filepath.Join(d, "ready")); return ok && st.Ready })
	// Commands: a killed service restarts, off comes up, lines goes down.
	svc(t, filepath.Join(d, "a"), "k")
	s.waitFor("a restarted", func() bool { st, ok := status(filepath.Join(d, "a")); return ok && st.Up() && st.Pid != before["a"] })
	svc(t, filepath.Join(d, "off"), "u")
	s.waitFor("off up", isUp(filepath.Join(d, "off")))
	if out := s6svstat(t, filepath.Join(d, "off")); !strings.HasPrefix(out, "up (pid ") {
		t.Errorf("s6-svstat off: %q", out)
	}
	// A second re-exec, in the same batch as a scan: both done.
	service(t, d, map[string]string{"new/run": sleeper})
	s.control("aU")
	s.waitFor("a second re-exec", func() bool {
		return strings.Count(s.out.String(), "re-executed:") == 2
	})
	s.waitFor("new up", isUp(filepath.Join(d, "new")))
}

func TestReexecKeepsServices(t *testing.T) {
	d := t.TempDir()
	handoverServices(t, d)
	s := startScan(t, d)
	reexec(t, s, d, "U")
	// A terminate after the exec still stops everything cleanly.
	s.control("t")
	s.waitExit()
}

// As process 1: it stays process 1 (no kernel panic, the namespace
// lives) and nothing is lost either.
func TestReexecAsProcess1(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	handoverServices(t, d)
	s := startPID1(t, d, "")
	reexec(t, s, d, "U")
	s.alive("two re-execs")
}

// An exec that fails (the program is not executable) leaves the scanner
// as it was; then another program takes over (an upgrade, svscanctl -E).
func TestReexecFailureKeepsRunning(t *testing.T) {
	d := t.TempDir()
	service(t, d, map[string]string{"a/run": sleeper})
	s := startScan(t, d)
	s.waitFor("a up", isUp(filepath.Join(d, "a")))
	st, _ := status(filepath.Join(d, "a"))
	notExec := filepath.Join(d, "not-executable")
	os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644)
	if err := servicedir.WriteScanRequest(d, servicedir.ScanExecRequest, notExec); err != nil {
		t.Fatal(err)
	}
	s.control("U")
	s.waitFor("the failure reported", func() bool {
		return strings.Contains(s.out.String(), "cannot re-exec (still running as before)")
	})
	service(t, d, map[string]string{"b/run": sleeper})
	s.control("a")
	s.waitFor("b up: still scanning", isUp(filepath.Join(d, "b")))
	svc(t, filepath.Join(d, "a"), "k")
	s.waitFor("a restarted: still supervising", func() bool {
		n, ok := status(filepath.Join(d, "a"))
		return ok && n.Up() && n.Pid != st.Pid
	})
	// An upgrade: another program (a copy here) takes over.
	up := filepath.Join(t.TempDir(), "svscan-upgraded")
	b, err := os.ReadFile(svscanBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(up, b, 0o755); err != nil {
		t.Fatal(err)
	}
	a, _ := status(filepath.Join(d, "a"))
	if err := servicedir.WriteScanRequest(d, servicedir.ScanExecRequest, up); err != nil {
		t.Fatal(err)
	}
	s.control("U")
	s.waitFor("the upgrade", func() bool { return strings.Contains(s.out.String(), "re-executed: 2 service(s) adopted") })
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", s.cmd.Process.Pid)); err != nil || exe != up {
		t.Errorf("svscan runs %q (%v), want %s", exe, err, up)
	}
	if n, _ := status(filepath.Join(d, "a")); n.Pid != a.Pid || !n.Up() {
		t.Errorf("a: pid %d after the upgrade, was %d", n.Pid, a.Pid)
	}
}

// startInNewRoot starts svscan on d in a new mount namespace where nr is
// a tmpfs holding what the services need (the host's /usr, /bin...
// bound in, a proc file system, d at its own path) and a file marker.
func startInNewRoot(t *testing.T, d, nr string) *scan {
	needRoot(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatal("unshare not found: install the Debian package util-linux")
	}
	script := fmt.Sprintf(`set -e
NR=%s
mount -t tmpfs newroot $NR
for d in bin sbin lib lib32 lib64 usr etc; do
	if [ -d /$d ] && [ ! -L /$d ]; then mkdir -p $NR/$d; mount --rbind /$d $NR/$d; fi
	if [ -L /$d ]; then ln -s "$(readlink /$d)" $NR/$d; fi
done
mkdir -p $NR/proc $NR/dev $NR%s $NR%s
mount -t proc proc $NR/proc
mount --rbind /dev $NR/dev
mount --bind %s $NR%s
mount --bind %s $NR%s
echo newroot > $NR/marker
exec %s %s
`, nr, d, filepath.Dir(svscanBin), d, d, filepath.Dir(svscanBin), filepath.Dir(svscanBin), svscanBin, d)
	return launch(t, d, exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c", script))
}

// svscanctl -R: the scanner's root becomes the new root, services keep
// running (same pids, the log pipe keeps every line), services started
// afterwards run in the new root, and a re-exec works from there.
func TestRootSwitch(t *testing.T) {
	d := t.TempDir()
	nr := t.TempDir()
	service(t, d, map[string]string{
		"lines/run":     "#!/bin/sh\ni=0\nwhile :; do seq $i $((i+99)); i=$((i+100)); sleep 0.01; done\n",
		"lines/log/run": "#!/bin/sh\nexec cat >> " + filepath.Join(d, "lines.out") + "\n",
		"a/run":         sleeper,
	})
	s := startInNewRoot(t, d, nr)
	for _, n := range []string{"lines", "lines/log", "a"} {
		s.waitFor(n+" up", isUp(filepath.Join(d, n)))
	}
	out := filepath.Join(d, "lines.out")
	s.waitFor("lines logged", func() bool { return consecutive(out) > 1000 })
	before := map[string]uint64{}
	for _, n := range []string{"lines", "lines/log", "a"} {
		st, _ := status(filepath.Join(d, n))
		before[n] = st.Pid
	}
	// Refused, nothing changed: not a directory.
	if err := servicedir.WriteScanRequest(d, servicedir.ScanRootRequest, "/nonexistent/new-root"); err != nil {
		t.Fatal(err)
	}
	s.control("R")
	s.waitFor("the refusal", func() bool {
		return strings.Contains(s.out.String(), "cannot switch the root (still on the old one): new root /nonexistent/new-root")
	})
	if err := servicedir.WriteScanRequest(d, servicedir.ScanRootRequest, nr); err != nil {
		t.Fatal(err)
	}
	linesBefore := consecutive(out)
	s.control("R")
	s.waitFor("the switch", func() bool { return strings.Contains(s.out.String(), "root switched to "+nr) })
	s.alive("svscanctl -R")
	pid := strconv.Itoa(s.cmd.Process.Pid)
	if b, err := os.ReadFile("/proc/" + pid + "/root/marker"); err != nil || string(b) != "newroot\n" {
		t.Errorf("svscan's root has no /marker (%q, %v): not the new root", b, err)
	}
	for n, p := range before {
		if st, _ := status(filepath.Join(d, n)); st.Pid != p || !st.Up() {
			t.Errorf("%s: pid %d up %v after the switch, was %d", n, st.Pid, st.Up(), p)
		}
	}
	service(t, d, map[string]string{"b/run": "#!/bin/sh\ncat /marker > " + filepath.Join(d, "b.out") + "\nexec sleep 1000\n"})
	s.control("a")
	s.waitFor("b up", isUp(filepath.Join(d, "b")))
	s.waitFor("b saw the new root", func() bool { b, _ := os.ReadFile(filepath.Join(d, "b.out")); return string(b) == "newroot\n" })
	s.waitFor("lines logged across the switch, none lost", func() bool {
		n := consecutive(out)
		if n < 0 {
			t.Fatalf("lines.out is not 0, 1, 2...: a line was lost or repeated; output:\n%s", s.out)
		}
		return n > linesBefore+2000
	})
	// The running program is reached through a descriptor opened at
	// start: a re-exec works from the new root too.
	s.control("U")
	s.waitFor("the re-exec", func() bool { return strings.Contains(s.out.String(), "re-executed: 4 service(s) adopted") })
	if b, err := os.ReadFile("/proc/" + pid + "/root/marker"); err != nil || string(b) != "newroot\n" {
		t.Errorf("after the re-exec, svscan's root has no /marker (%q, %v)", b, err)
	}
	svc(t, filepath.Join(d, "a"), "k")
	s.waitFor("a restarted", func() bool { st, ok := status(filepath.Join(d, "a")); return ok && st.Up() && st.Pid != before["a"] })
}
