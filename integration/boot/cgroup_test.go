package boot

import (
	"strconv"
	"strings"
	"testing"
)

var cgroupImage = imageSpec{name: "cgtest", def: "integration/boot/testdata/cgroup.yaml"}

// TestCgroups boots testdata/cgroup.yaml: svscan as process 1 puts each
// service in its own cgroup under /sys/fs/cgroup/svinit, with every
// controller (stage 1 enables them): svc -d ends a daemon that
// double-forked away from ./run, a memory limit makes the OOM killer end
// a hog and svstat and the log say so, and a process limit holds a fork
// bomb inside its service.
func TestCgroups(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, cgroupImage)
	g := bootShell(t, e, "cgtest", img, bootOpts{})
	const root = "/sys/fs/cgroup/svinit/"

	g.step(t, "Layout", func(t *testing.T) {
		waitLog(t, g, "cgtest: stage 2 adds services")
		for _, s := range []string{"cgdaemon", "cghog", "cgbomb"} {
			guestPoll(t, g, s+" supervised", "svok /run/service/"+s+"; echo $?", func(s string) bool { return strings.HasSuffix(s, "0") })
		}
		if out := strings.TrimSpace(g.run("cat /proc/1/cgroup")); out != "0::/" {
			t.Errorf("process 1's cgroup: %q, want 0::/", out)
		}
		ctl := g.run("cat /sys/fs/cgroup/cgroup.subtree_control")
		for _, c := range []string{"memory", "pids", "cpu"} {
			if !strings.Contains(ctl, c) {
				t.Errorf("the root's cgroup.subtree_control lacks %s: %q", c, ctl)
			}
		}
	})

	g.step(t, "DoubleFork", func(t *testing.T) {
		g.run("svc -u /run/service/cgdaemon")
		guestPoll(t, g, "cgdaemon's two processes", "svstat -o processes /run/service/cgdaemon", func(s string) bool { return s == "2" })
		if cg := strings.TrimSpace(g.run("svstat -o cgroup /run/service/cgdaemon")); cg != root+"cgdaemon" {
			t.Errorf("cgdaemon's cgroup: %q, want %scgdaemon", cg, root)
		}
		// The orphan: the process of the cgroup running "sleep 100001".
		orphan := ""
		for _, pid := range strings.Fields(g.run("cat " + root + "cgdaemon/cgroup.procs")) {
			if out, rc := g.runStatus(cmdTimeout, "cat /proc/"+pid+"/cmdline"); rc == 0 && strings.Contains(out, "100001") {
				orphan = pid
			}
		}
		if orphan == "" {
			t.Fatalf("the double-forked sleep is not in cgdaemon's cgroup")
		}
		if ppid := g.run("cat /proc/" + orphan + "/stat"); !strings.Contains(ppid, ") S 1 ") {
			t.Errorf("the double-forked sleep is not an orphan of process 1: %s", ppid)
		}
		g.run("svc -wD -d /run/service/cgdaemon")
		guestPoll(t, g, "cgdaemon's cgroup to empty", "svstat -o processes /run/service/cgdaemon", func(s string) bool { return s == "0" })
		if out, rc := g.runStatus(cmdTimeout, "cat /proc/"+orphan+"/cmdline"); rc == 0 && strings.Contains(out, "100001") {
			t.Errorf("the double-forked sleep (pid %s) outlived svc -d", orphan)
		}
		waitLog(t, g, "cgdaemon: down: killed the 1 process(es) left in its cgroup")
	})

	g.step(t, "MemoryLimit", func(t *testing.T) {
		if got := strings.TrimSpace(g.run("cat /run/service/cghog/svinit-memory-max")); got != "32M" {
			t.Fatalf("cghog/svinit-memory-max: %q", got)
		}
		g.run("svc -u /run/service/cghog")
		guestPoll(t, g, "an OOM kill of cghog", "svstat -o oomkills /run/service/cghog", func(s string) bool {
			n, err := strconv.Atoi(s)
			return err == nil && n >= 1
		})
		if max := strings.TrimSpace(g.run("cat " + root + "cghog/memory.max")); max != "33554432" {
			t.Errorf("cghog's memory.max: %q, want 33554432", max)
		}
		if w := strings.TrimSpace(g.run("cat " + root + "cghog/cpu.weight")); w != "50" {
			t.Errorf("cghog's cpu.weight: %q, want 50 (svinit-cpu-weight)", w)
		}
		if peak := strings.TrimSpace(g.run("svstat -o memorypeak /run/service/cghog")); peak == "-1" {
			t.Errorf("no memory peak for cghog")
		}
		g.run("svc -wD -d /run/service/cghog")
		if st := g.run("svstat /run/service/cghog"); !strings.Contains(st, ", OOM kills ") {
			t.Errorf("svstat does not report the OOM kill: %s", st)
		}
		waitLog(t, g, "cghog: OOM: the kernel's OOM killer killed")
	})

	g.step(t, "ForkBomb", func(t *testing.T) {
		g.run("svc -u /run/service/cgbomb")
		guestPoll(t, g, "cgbomb to reach pids.max", "cat "+root+"cgbomb/pids.events", func(s string) bool {
			f := strings.Fields(s)
			return len(f) >= 2 && f[0] == "max" && f[1] != "0"
		})
		for range 3 {
			cur, err := strconv.Atoi(strings.TrimSpace(g.run("cat " + root + "cgbomb/pids.current")))
			if err != nil || cur > 60 {
				t.Errorf("cgbomb's pids.current: %d, %v; want at most 60 (svinit-pids-max)", cur, err)
			}
		}
		procs := strings.TrimSpace(g.run("svstat -o processes /run/service/cgbomb"))
		t.Logf("fork bomb held at %s processes (pids.max 60 tasks)", procs)
		g.run("svc -wD -d /run/service/cgbomb")
		guestPoll(t, g, "cgbomb's cgroup to empty", "svstat -o processes /run/service/cgbomb", func(s string) bool { return s == "0" })
	})

	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}

// guestPoll runs cmd in the guest once a second (60 times at most) until
// cond holds for its trimmed output.
func guestPoll(t *testing.T, g *guest, what, cmd string, cond func(string) bool) {
	t.Helper()
	out := ""
	for try := 0; try < 60; try++ {
		var rc int
		out, rc = g.runStatus(cmdTimeout, cmd)
		out = strings.TrimSpace(out)
		if rc == 0 && cond(out) {
			return
		}
		g.run("sleep 1")
	}
	t.Fatalf("waiting for %s: %q gives %q after 60 s", what, cmd, out)
}
