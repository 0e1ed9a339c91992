package rc

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/servicedir"
)

// An aborted change (svrc's SIGTERM or SIGINT) starts nothing more,
// fails the longrun transitions under way (an up one is sent down) and
// lets the oneshot scripts running finish, as s6-rc does.
func TestAbortUnderSvscan(t *testing.T) {
	e := setup(t, map[string]string{
		// Never ready: its transition is under way at the abort.
		"slow/type": "longrun\n", "slow/notification-fd": "3\n",
		"slow/run":   sh + "echo $$ > $T/slow.pid\nexec sleep 1000\n",
		"after/type": "longrun\n", "after/run": sh + "exec sleep 1000\n", "after/dependencies.d/slow": "",
		// Running at the abort; it finishes once the test says so.
		"osh/type":  "oneshot\n",
		"osh/up":    "/bin/sh -c \"touch $T/osh-started; while [ ! -e $T/go ]; do sleep 0.01; done; echo done > $T/osh\"\n",
		"next/type": "oneshot\n", "next/up": "/bin/sh -c \"touch $T/next\"\n", "next/dependencies.d/osh": "",
		"all/type": "bundle\n", "all/contents.d/after": "", "all/contents.d/next": "",
	})
	sel, err := e.db.Resolve([]string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	p := e.db.Plan(sel, true, false, func(id int) bool { return e.live.IsUp(e.db.atoms[id]) })
	abort := make(chan struct{})
	res := make(chan Outcome, 1)
	go func() {
		res <- e.live.Execute(e.db, p, Options{Execlineb: execlinebBin, Timeout: time.Minute, Abort: abort})
	}()
	exists := func(f string) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(e.tmp, f)); return err == nil }
	}
	e.waitFor("slow to run", exists("slow.pid"))
	e.waitFor("osh to start", exists("osh-started"))
	close(abort)
	// The longrun's transition fails at once, while osh still runs.
	select {
	case out := <-res:
		t.Fatalf("Execute returned before the running oneshot finished: %+v", out)
	case <-time.After(100 * time.Millisecond):
	}
	if err := os.WriteFile(filepath.Join(e.tmp, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out Outcome
	select {
	case out = <-res:
	case <-time.After(60 * time.Second):
		t.Fatalf("Execute did not return after the abort; svscan output:\n%s", e.out())
	}
	if !out.Interrupted {
		t.Errorf("not reported as interrupted: %+v", out)
	}
	if len(out.Failed) != 1 || out.Failed[0].Name != "slow" || !strings.Contains(out.Failed[0].Reason, "interrupted") {
		t.Fatalf("failed %+v: want slow, interrupted", out.Failed)
	}
	if strings.Join(out.Done, ",") != "osh" {
		t.Errorf("done %q: want the oneshot that was running, osh", out.Done)
	}
	if strings.Join(out.NotStarted, ",") != "next" || strings.Join(out.Failed[0].Blocked, ",") != "after" {
		t.Errorf("not started %q, blocked by slow %q: want next and after", out.NotStarted, out.Failed[0].Blocked)
	}
	if _, err := os.Stat(filepath.Join(e.tmp, "next")); err == nil {
		t.Error("next ran after the abort")
	}
	if e.isUp("slow") || e.isUp("after") || !e.isUp("osh") || e.isUp("next") {
		t.Errorf("up: slow %v after %v osh %v next %v; want only osh", e.isUp("slow"), e.isUp("after"), e.isUp("osh"), e.isUp("next"))
	}
	if r := e.live.Failed("next"); r != "" {
		t.Errorf("next, never started, has a failure recorded: %q", r)
	}
	var b strings.Builder
	out.Report(&b, true)
	if !strings.Contains(b.String(), "svrc: slow failed: interrupted") ||
		!strings.Contains(b.String(), "svrc: interrupted: no transition started after the signal; left down, not started: next") {
		t.Errorf("report:\n%s", b.String())
	}
	// slow was sent down: its run is killed.
	w, err := listen(e.live.ServiceDir("slow"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	for {
		st, err := servicedir.ReadStatus(e.live.ServiceDir("slow"))
		if err == nil && !st.Up() {
			break
		}
		if _, err := w.next(time.Now().Add(30 * time.Second)); err != nil {
			t.Fatalf("slow still running after the abort: %v", err)
		}
	}
}

// svrc itself: SIGTERM during a change ends it with exit 1 and says
// what was interrupted and what was not started.
func TestSvrcSigterm(t *testing.T) {
	bin := testutil.Command(t, "svrc")
	tmp := t.TempDir()
	root := defs(t, t.TempDir(), map[string]string{
		"slow/type": "longrun\n", "slow/notification-fd": "3\n",
		"slow/run":   sh + "touch " + tmp + "/slow-runs\nexec sleep 1000\n",
		"after/type": "longrun\n", "after/run": sh + "exec sleep 1000\n", "after/dependencies.d/slow": "",
	})
	scan, out := scanner(t)
	cmd := exec.Command(bin, "-c", root, "-l", scan, "-u", "change", "after")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, out: out, tmp: tmp}
	e.waitFor("slow to run", func() bool { _, err := os.Stat(filepath.Join(tmp, "slow-runs")); return err == nil })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("svrc after SIGTERM: %v, want exit 1; stderr:\n%s", err, stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "svrc: slow failed: interrupted") || !strings.Contains(s, "left down because of it: after") {
		t.Errorf("stderr:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(scan, "slow", "down")); err != nil {
		t.Errorf("slow not marked down after the interruption: %v", err)
	}
}
