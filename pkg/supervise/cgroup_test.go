package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
)

// privateCgroups returns a Cgroups in a subtree of its own under the test
// process's cgroup, so that the machine's cgroups are left alone; the
// test fails if the subtree is left behind.
func privateCgroups(t testing.TB) *Cgroups {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root (creates cgroups): run the tests as root")
	}
	own, _, err := cgroup.Find()
	if err != nil {
		t.Fatalf("no cgroup2 hierarchy: %v (mount -t cgroup2 none /sys/fs/cgroup)", err)
	}
	dir := filepath.Join(own, fmt.Sprintf("svinit-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	c := NewCgroups(dir)
	t.Cleanup(func() {
		c.Close()
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s is left behind", dir)
		}
	})
	return c
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// daemon is a run script whose daemon double-forks away from it (a new
// session, its parent gone) and writes its pid in ./daemon.pid, then
// ./run waits; the script's shell ignores the down signal if tough.
func daemon(tough bool) string {
	trap := ""
	if tough {
		trap = "trap '' TERM\n"
	}
	return "#!/bin/sh\n" + trap +
		"setsid sh -c 'sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > daemon.pid.new; mv daemon.pid.new daemon.pid' &\n" +
		"wait\nwhile :; do sleep 1; done\n"
}

func daemonPid(t *testing.T, dir string) int {
	t.Helper()
	var pid int
	waitFor(t, "the daemon's pid", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "daemon.pid"))
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// TestCgroupDoubleFork: svc -d ends a daemon that double-forked away
// from ./run; with svinit-no-cgroup (s6's behaviour) it survives.
func TestCgroupDoubleFork(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		survives bool
	}{
		{"cgroup", map[string]string{"run": daemon(false)}, false},
		{"svinit-no-cgroup", map[string]string{"run": daemon(false), servicedir.NoCgroup: ""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startWith(t, tc.files, Options{Cgroups: privateCgroups(t)})
			h.waitEvents("u")
			pid := daemonPid(t, h.dir)
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
			cg, err := servicedir.ReadCgroup(h.dir)
			if tc.survives {
				if err == nil {
					t.Errorf("supervise/svinit-cgroup names %s with svinit-no-cgroup", cg)
				}
			} else {
				if err != nil {
					t.Fatalf("supervise/svinit-cgroup: %v", err)
				}
				procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				if !strings.Contains("\n"+string(procs), "\n"+strconv.Itoa(pid)+"\n") {
					t.Errorf("the daemon %d is not in %s: %q", pid, cg, procs)
				}
			}
			h.control("d")
			h.waitEvents("dD")
			if tc.survives {
				if !alive(pid) {
					t.Errorf("the daemon %d died without a cgroup: the test cannot tell", pid)
				}
				return
			}
			waitFor(t, "the daemon to die", func() bool { return !alive(pid) })
			if !h.logged("process(es) left in its cgroup") {
				t.Errorf("no report of the kill: %q", h.logs)
			}
		})
	}
}

// TestCgroupTimeoutKill: a service that ignores the down signal is killed
// whole (./run and its daemon) at timeout-kill.
func TestCgroupTimeoutKill(t *testing.T) {
	h := startWith(t, map[string]string{"run": daemon(true), "timeout-kill": "200"}, Options{Cgroups: privateCgroups(t)})
	h.waitEvents("u")
	pid := daemonPid(t, h.dir)
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	h.control("d")
	h.waitEvents("dD")
	st := h.status()
	if sig, ok := st.Signaled(); !ok || sig != syscall.SIGKILL {
		t.Errorf("wait status %#x, want SIGKILL", st.Wstat)
	}
	waitFor(t, "the daemon to die", func() bool { return !alive(pid) })
	if !h.logged("killing every process in its cgroup (timeout-kill)") {
		t.Errorf("no report of timeout-kill: %q", h.logs)
	}
}

// TestCgroupLifetime: the cgroup is named in supervise/svinit-cgroup,
// holds ./run and ./finish, and is gone with the file once supervision
// has ended.
func TestCgroupLifetime(t *testing.T) {
	c := privateCgroups(t)
	h := startWith(t, map[string]string{
		"run":    "#!/bin/sh\ncat /proc/self/cgroup > run.cgroup\nexec sleep 1000\n",
		"finish": "#!/bin/sh\ncat /proc/self/cgroup > finish.cgroup\n",
	}, Options{Cgroups: c})
	h.waitEvents("u")
	cg, err := servicedir.ReadCgroup(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(cg) != c.Dir() || filepath.Base(cg) != "svc" {
		t.Errorf("cgroup %s, want %s/svc", cg, c.Dir())
	}
	waitFor(t, "run.cgroup", func() bool { return strings.HasSuffix(readFile(t, filepath.Join(h.dir, "run.cgroup")), "\n") })
	h.control("d")
	h.waitEvents("dD") // D: ./finish is done
	for _, f := range []string{"run.cgroup", "finish.cgroup"} {
		if got := readFile(t, filepath.Join(h.dir, f)); !strings.HasSuffix(strings.TrimSpace(got), "/svc") {
			t.Errorf("%s: %q, want the service's cgroup", f, got)
		}
	}
	h.svc.Control("x")
	<-h.svc.Done()
	if _, err := servicedir.ReadCgroup(h.dir); err == nil {
		t.Errorf("supervise/svinit-cgroup still there after supervision ended")
	}
	waitFor(t, "the cgroup to be removed", func() bool { _, err := os.Stat(cg); return os.IsNotExist(err) })
}

// group runs services of one directory each, with run files, under one
// reaper and poller (one process's: a second reaper would collect the
// first one's children), until the test ends; it returns the service
// directories and what was logged.
type group struct {
	dirs []string
	mu   sync.Mutex
	logs []string
}

func (g *group) count(sub string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, l := range g.logs {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func startGroup(t *testing.T, n int, files map[string]string, c *Cgroups, logf func(string, ...any)) *group {
	t.Helper()
	g := &group{}
	if logf == nil {
		logf = func(f string, a ...any) {
			g.mu.Lock()
			g.logs = append(g.logs, fmt.Sprintf(f, a...))
			g.mu.Unlock()
		}
	}
	r := reaper.New()
	stop := make(chan struct{})
	go r.Run(stop, nil)
	p, err := NewControlPoller()
	if err != nil {
		t.Fatal(err)
	}
	go p.Run()
	var svcs []*Service
	t.Cleanup(func() {
		for _, s := range svcs {
			s.Control("dx")
		}
		for _, s := range svcs {
			<-s.Done()
		}
		p.Close()
		close(stop)
	})
	base := t.TempDir()
	os.Chmod(base, 0o755)
	for i := range n {
		d := filepath.Join(base, strconv.Itoa(i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, d, files)
		s, err := New(d, Options{Reaper: r, Name: strconv.Itoa(i), Poller: p, Cgroups: c, Logf: logf})
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, s)
		go s.Run()
		g.dirs = append(g.dirs, d)
		waitFor(t, d+" up", func() bool { st, err := servicedir.ReadStatus(d); return err == nil && st.Up() })
	}
	return g
}

// TestCgroupLimitsUnavailable: a limit the subtree cannot apply (no such
// controller: this machine's cgroup2 may have none) is reported once for
// every service; where the controller is there, it is applied.
func TestCgroupLimitsUnavailable(t *testing.T) {
	c := privateCgroups(t)
	g := startGroup(t, 2, map[string]string{"run": sleeper, servicedir.PidsMax: "50"}, c, nil)
	n := g.count("pids.max is unavailable")
	if c.get(nil).Has("pids") {
		cg, _ := servicedir.ReadCgroup(g.dirs[0])
		if got := strings.TrimSpace(readFile(t, filepath.Join(cg, "pids.max"))); got != "50" {
			t.Errorf("pids.max = %q, want 50", got)
		}
		if n != 0 {
			t.Errorf("pids.max reported unavailable %d times with the pids controller", n)
		}
	} else if n != 1 {
		t.Errorf("pids.max reported unavailable %d times for two services, want once: %q", n, g.logs)
	}
}

// TestCgroupNoHierarchy: where the subtree cannot be made (not on a
// cgroup2 file system), services run as without cgroups, and it is said
// once for them all.
func TestCgroupNoHierarchy(t *testing.T) {
	g := startGroup(t, 2, map[string]string{"run": sleeper}, NewCgroups(filepath.Join(t.TempDir(), "svinit")), nil)
	if n := g.count("services run without a cgroup of their own"); n != 1 {
		t.Errorf("said %d times that there are no cgroups, want once: %q", n, g.logs)
	}
}

// TestCgroupUnprivileged: a supervisor that may not make cgroups (here
// the test binary again, as nobody, under a subtree root made) runs its
// services without, and says so once.
func TestCgroupUnprivileged(t *testing.T) {
	c := privateCgroups(t)
	parent := c.dir // made below, root's, 0755: nobody cannot make cgroups in it
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(parent) })
	// The test binary, where nobody can run it.
	bin := filepath.Join(t.TempDir(), "supervise.test")
	os.Chmod(filepath.Dir(bin), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestCgroupUnprivilegedChild$", "-test.v")
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "SVINIT_TEST_UNPRIV=1", "SVINIT_TEST_CGROUP="+filepath.Join(parent, "svinit"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the unprivileged supervisor failed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "services run without a cgroup of their own"); n != 1 {
		t.Errorf("said %d times that there are no cgroups, want once:\n%s", n, out)
	}
	if !strings.Contains(string(out), "permission denied") {
		t.Errorf("the message does not say why:\n%s", out)
	}
}

// TestCgroupUnprivilegedChild is TestCgroupUnprivileged's supervisor.
func TestCgroupUnprivilegedChild(t *testing.T) {
	if os.Getenv("SVINIT_TEST_UNPRIV") == "" {
		return // run by TestCgroupUnprivileged only
	}
	c := NewCgroups(os.Getenv("SVINIT_TEST_CGROUP"))
	startGroup(t, 2, map[string]string{"run": sleeper}, c, func(f string, a ...any) { fmt.Printf("LOG "+f+"\n", a...) })
}
