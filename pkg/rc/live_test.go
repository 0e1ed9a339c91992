package rc

// Host tests: svrc's engine against the real svscan binary on a
// temporary scan directory, oneshots run by the real execlineb.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/servicedir"
)

var svscanBin, execlinebBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rc-test")
	if err != nil {
		panic(err)
	}
	if err := testutil.GoBuild(dir, nil, "./cmds/svscan", "./cmds/execlineb"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	svscanBin, execlinebBin = filepath.Join(dir, "svscan"), filepath.Join(dir, "execlineb")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// scanner runs svscan on a fresh scan directory until the test ends.
func scanner(t testing.TB) (scan string, out func() string) {
	scan, out, _ = scannerStop(t)
	return scan, out
}

// scannerStop is scanner with a function that stops it early.
func scannerStop(t testing.TB) (scan string, out func() string, stop func()) {
	t.Helper()
	scan = t.TempDir()
	f, err := os.Create(filepath.Join(t.TempDir(), "svscan.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(svscanBin, scan)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	out = func() string { b, _ := os.ReadFile(f.Name()); return string(b) }
	var once sync.Once
	stop = func() { once.Do(func() { quit(t, scan, cmd, done, out) }) }
	t.Cleanup(stop)
	// Ready when its control FIFO has a reader (nothing to subscribe to
	// before it exists).
	if !testutil.Poll(20*time.Second, func() bool {
		var c *os.File
		if c, err = os.OpenFile(filepath.Join(scan, ".s6-svscan", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("svscan did not start: %v\n%s", err, out())
	}
	return scan, out, stop
}

// quit stops a scanner with q, then kills what is left of its group.
func quit(t testing.TB, scan string, cmd *exec.Cmd, done chan struct{}, out func() string) {
	if c, err := os.OpenFile(filepath.Join(scan, ".s6-svscan", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		c.WriteString("q")
		c.Close()
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Errorf("svscan did not exit on q; output:\n%s", out())
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

type env struct {
	t    *testing.T
	db   *DB
	live *Live
	out  func() string
	tmp  string
}

func setup(t *testing.T, files map[string]string) *env {
	t.Helper()
	tmp := t.TempDir()
	for k, v := range files {
		delete(files, k)
		files[k] = strings.ReplaceAll(v, "$T", tmp)
	}
	root := defs(t, t.TempDir(), files)
	db, probs := Load(root)
	if probs != nil {
		t.Fatal(probs)
	}
	scan, out := scanner(t)
	live, err := OpenLive(scan, db, true, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	return &env{t: t, db: db, live: live, out: out, tmp: tmp}
}

func (e *env) change(up, force bool, timeout time.Duration, names ...string) Outcome {
	e.t.Helper()
	sel, err := e.db.Resolve(names)
	if err != nil {
		e.t.Fatal(err)
	}
	p := e.db.Plan(sel, up, force, func(id int) bool { return e.live.IsUp(e.db.atoms[id]) })
	return e.live.Execute(e.db, p, Options{Execlineb: execlinebBin, Timeout: timeout})
}

func (e *env) mustChange(up bool, names ...string) {
	e.t.Helper()
	if out := e.change(up, false, 60*time.Second, names...); len(out.Failed) > 0 {
		e.t.Fatalf("change failed: %+v\nsvscan output:\n%s", out.Failed, e.out())
	}
}

func (e *env) lines(file string) []string {
	b, _ := os.ReadFile(filepath.Join(e.tmp, file))
	return strings.Fields(string(b))
}

func (e *env) isUp(name string) bool { return e.live.IsUp(e.db.Services[name]) }

func before(list []string, a, b string) bool {
	ia, ib := indexOf(list, a), indexOf(list, b)
	return ia >= 0 && ib >= 0 && ia < ib
}

const sh = "#!/bin/sh\n"

func TestGraphUnderSvscan(t *testing.T) {
	e := setup(t, map[string]string{
		// A oneshot, a longrun needing it, a longrun with readiness
		// and a oneshot that checks that one really was ready.
		"mnt/type": "oneshot\n",
		"mnt/up":   "/bin/sh -c \"echo mnt-up >> $T/order\"\n",
		"mnt/down": "/bin/sh -c \"echo mnt-down >> $T/order\"\n",
		"db/type":  "longrun\n", "db/dependencies.d/mnt": "",
		"db/run":    sh + "grep -q mnt-up $T/order || exit 1\necho db-up >> $T/order\nexec sleep 1000\n",
		"db/finish": sh + "echo db-down >> $T/order\n",
		"rdy/type":  "longrun\n", "rdy/notification-fd": "3\n",
		"rdy/run":  sh + "sleep 0.3\necho rdy-ready >> $T/order\necho >&3\nexec sleep 1000\n",
		"chk/type": "oneshot\n", "chk/dependencies.d/rdy": "",
		"chk/up":   "/bin/sh -c \"grep -q rdy-ready $T/order && echo chk-$RC_NAME >> $T/order\"\n",
		"all/type": "bundle\n", "all/contents.d/db": "", "all/contents.d/inner": "",
		"inner/type": "bundle\n", "inner/contents.d/chk": "",
		"solo/type": "longrun\n", "solo/run": sh + "exec sleep 1000\n",
		"solo/data/cf": "copied\n",
	})
	e.mustChange(true, "all")
	order := e.lines("order")
	if !before(order, "mnt-up", "db-up") || !before(order, "rdy-ready", "chk-chk") {
		t.Fatalf("order %q: a service started before what it needs", order)
	}
	for _, n := range []string{"mnt", "db", "rdy", "chk"} {
		if !e.isUp(n) {
			t.Errorf("%s not up", n)
		}
	}
	st, err := servicedir.ReadStatus(e.live.ServiceDir("rdy"))
	if err != nil || !st.Up() || !st.Ready {
		t.Fatalf("rdy status %+v %v: want up and ready", st, err)
	}
	// s6's own tools see the services svrc started.
	s6svstat, err := exec.LookPath("s6-svstat")
	if err != nil {
		t.Fatalf("s6-svstat not found: apt-get install s6 (%v)", err)
	}
	if b, err := exec.Command(s6svstat, e.live.ServiceDir("rdy")).CombinedOutput(); err != nil ||
		!strings.HasPrefix(string(b), "up (pid ") || !strings.Contains(string(b), ", ready ") {
		t.Errorf("s6-svstat rdy: %q %v", b, err)
	}
	// No runner service is left in the scan directory.
	ents, _ := os.ReadDir(e.live.Scan)
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), RunnerPrefix) {
			t.Errorf("runner %s left in the scan directory", en.Name())
		}
	}
	e.mustChange(true, "solo")
	if b, err := os.ReadFile(filepath.Join(e.live.ServiceDir("solo"), "data", "cf")); err != nil || string(b) != "copied\n" {
		t.Errorf("data/ not copied: %q %v", b, err)
	}

	// Partial stop: mnt's dependents go down first.
	e.mustChange(false, "mnt")
	order = e.lines("order")
	if !before(order, "db-down", "mnt-down") {
		t.Fatalf("order %q: mnt went down before its dependent db", order)
	}
	if e.isUp("db") || e.isUp("mnt") || !e.isUp("rdy") || !e.isUp("chk") {
		t.Fatalf("after -d change mnt: db %v mnt %v rdy %v chk %v", e.isUp("db"), e.isUp("mnt"), e.isUp("rdy"), e.isUp("chk"))
	}
	if st, err := servicedir.ReadStatus(e.live.ServiceDir("db")); err != nil || st.Up() {
		t.Fatalf("db still running: %+v %v", st, err)
	}

	// Full stop of what is up (svrc -da change).
	all := map[int]bool{}
	for id, s := range e.db.atoms {
		if e.live.IsUp(s) {
			all[id] = true
		}
	}
	p := e.db.Plan(all, false, false, func(id int) bool { return e.live.IsUp(e.db.atoms[id]) })
	if out := e.live.Execute(e.db, p, Options{Execlineb: execlinebBin}); len(out.Failed) > 0 {
		t.Fatalf("full stop: %+v", out.Failed)
	}
	for _, s := range e.db.atoms {
		if e.live.IsUp(s) {
			t.Errorf("%s still up after the full stop", s.Name)
		}
	}
	rows := e.live.Status(e.db)
	if len(rows) != len(e.db.names) {
		t.Fatalf("%d status rows for %d services", len(rows), len(e.db.names))
	}
}

func TestFailuresUnderSvscan(t *testing.T) {
	e := setup(t, map[string]string{
		"bad/type": "oneshot\n", "bad/up": "/bin/sh -c \"exit 3\"\n",
		"after/type": "longrun\n", "after/run": sh + "exec sleep 1000\n", "after/dependencies.d/bad": "",
		"later/type": "oneshot\n", "later/up": "/bin/true\n", "later/dependencies.d/after": "",
		"indep/type": "oneshot\n", "indep/up": "/bin/sh -c \"echo indep >> $T/order\"\n",
		"hang/type": "oneshot\n", "hang/up": "/bin/sh -c \"echo $$ > $T/hang.pid; exec sleep 1000\"\n",
		"hang/timeout-up": "300\n",
		"slow/type":       "longrun\n", "slow/notification-fd": "3\n", "slow/timeout-up": "300\n",
		"slow/run": sh + "exec sleep 1000\n",
		"grp/type": "bundle\n", "grp/contents.d/later": "", "grp/contents.d/indep": "",
		"stuck/type": "oneshot\n", "stuck/up": "/bin/sleep 1000\n",
		"next/type": "oneshot\n", "next/up": "/bin/true\n", "next/dependencies.d/stuck": "",
	})
	out := e.change(true, false, 0, "grp")
	if len(out.Failed) != 1 || out.Failed[0].Name != "bad" || !strings.Contains(out.Failed[0].Reason, "exit 3") ||
		strings.Join(out.Failed[0].Blocked, ",") != "after,later" {
		t.Fatalf("failed %+v: want bad (exit 3) blocking after and later", out.Failed)
	}
	if e.isUp("after") || e.isUp("later") || e.isUp("bad") || !e.isUp("indep") {
		t.Fatalf("after %v later %v bad %v indep %v", e.isUp("after"), e.isUp("later"), e.isUp("bad"), e.isUp("indep"))
	}
	if r := e.live.Failed("bad"); !strings.Contains(r, "exit 3") {
		t.Errorf("recorded reason %q", r)
	}

	// A hung oneshot is killed at its timeout.
	out = e.change(true, false, 0, "hang")
	if len(out.Failed) != 1 || !strings.Contains(out.Failed[0].Reason, "killed") {
		t.Fatalf("hang: %+v", out.Failed)
	}
	b, _ := os.ReadFile(filepath.Join(e.tmp, "hang.pid"))
	var pid int
	fmt.Sscan(string(b), &pid)
	if pid == 0 {
		t.Fatal("hang never ran")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("hung oneshot %d still alive", pid)
	}

	// The overall timeout (svrc -t) ends the change: exit 2.
	out = e.change(true, false, 300*time.Millisecond, "next")
	if !out.TimedOut || len(out.Failed) != 1 || out.Failed[0].Name != "stuck" ||
		strings.Join(out.Failed[0].Blocked, ",") != "next" {
		t.Fatalf("stuck: %+v", out)
	}

	// A longrun that never notifies readiness fails at its timeout
	// and is left down.
	out = e.change(true, false, 0, "slow")
	if len(out.Failed) != 1 || !strings.Contains(out.Failed[0].Reason, "not ready in time") {
		t.Fatalf("slow: %+v", out.Failed)
	}
	if e.isUp("slow") {
		t.Error("slow counted up")
	}
}

// waitFor polls a file the services write (there is nothing to
// subscribe to) until cond holds.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	testutil.WaitFor(e.t, what, 60*time.Second, cond, func() string { return "svscan output:\n" + e.out() })
}

// A two-service pipeline: the consumer is installed as the producer's
// log/, so the scanner holds the pipe, and either side can be killed
// while lines flow without losing one.
func TestPipelineUnderSvscan(t *testing.T) {
	const last = 400
	e := setup(t, map[string]string{
		"prod/type": "longrun\n", "prod/producer-for": "sink\n",
		// The count survives a kill: written aside, then renamed.
		"prod/run": sh + "n=$(cat $T/cnt 2>/dev/null); n=${n:-0}\n" +
			fmt.Sprintf("while [ \"$n\" -lt %d ]; do n=$((n+1)); echo $n; echo $n > $T/cnt.new; mv $T/cnt.new $T/cnt; sleep 0.005; done\n", last) +
			"exec sleep 1000\n",
		"sink/type": "longrun\n", "sink/consumer-for": "prod\n", "sink/pipeline-name": "logged\n",
		"sink/run": sh + "exec cat >> $T/out\n",
	})
	e.mustChange(true, "logged")
	if got := e.live.ServiceDir("sink"); got != filepath.Join(e.live.Scan, "prod", "log") {
		t.Fatalf("sink lives in %s, want prod/log", got)
	}
	count := func(n int) func() bool { return func() bool { return len(e.lines("out")) >= n } }
	e.waitFor("50 lines", count(50))
	if err := control(e.live.ServiceDir("prod"), "k"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("150 lines", count(150))
	if err := control(e.live.ServiceDir("sink"), "k"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the last line", func() bool { return indexOf(e.lines("out"), fmt.Sprint(last)) >= 0 })
	got := map[string]bool{}
	for _, l := range e.lines("out") {
		got[l] = true
	}
	for i := 1; i <= last; i++ {
		if !got[fmt.Sprint(i)] {
			t.Fatalf("line %d lost (a restart broke the pipe)", i)
		}
	}
	for _, n := range []string{"prod", "sink"} {
		fi, err := os.Stat(filepath.Join(e.live.ServiceDir(n), "supervise", "death_tally"))
		if err != nil || fi.Size() == 0 {
			t.Fatalf("%s was not killed and restarted: %v", n, err)
		}
	}
	// Down: the producer first, then its consumer.
	e.mustChange(false, "sink")
	if e.isUp("prod") || e.isUp("sink") {
		t.Fatal("pipeline still up")
	}
}
