package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/spawn"
)

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mounts []mount
		own    string
		want   string
		err    bool
	}{
		{"pid 1", []mount{{"/", "/sys/fs/cgroup"}}, "/", "/sys/fs/cgroup", false},
		{"hybrid", []mount{{"/", "/sys/fs/cgroup/unified"}}, "/", "/sys/fs/cgroup/unified", false},
		{"systemd unit", []mount{{"/", "/sys/fs/cgroup"}}, "/system.slice/s.service", "/sys/fs/cgroup/system.slice/s.service", false},
		{"bind of a subtree", []mount{{"/a/b", "/mnt/cg"}}, "/a/b/c", "/mnt/cg/c", false},
		{"outside the bind", []mount{{"/a/b", "/mnt/cg"}}, "/a/bc", "", true},
		{"prefers /sys/fs/cgroup", []mount{{"/", "/mnt/x"}, {"/", "/sys/fs/cgroup"}}, "/s", "/sys/fs/cgroup/s", false},
		{"none", nil, "/", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pick(tc.mounts, tc.own)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("pick = %q, %v; want %q (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestMountinfo(t *testing.T) {
	f := filepath.Join(t.TempDir(), "mountinfo")
	text := "25 30 0:23 / /sys rw,nosuid - sysfs sysfs rw\n" +
		"33 25 0:28 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw\n" +
		"34 25 0:29 /x\\040y /mnt/cg\\040z rw - cgroup2 none rw\n" +
		"35 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	got, err := cgroup2Mounts(fh)
	want := []mount{{"/", "/sys/fs/cgroup/unified"}, {"/x y", "/mnt/cg z"}}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("cgroup2Mounts = %v, %v; want %v", got, err, want)
	}
	pc := filepath.Join(t.TempDir(), "cgroup")
	os.WriteFile(pc, []byte("4:memory:/m\n0::/a/b\n"), 0o644)
	if own, err := ownCgroup(pc); own != "/a/b" || err != nil {
		t.Errorf("ownCgroup = %q, %v; want /a/b", own, err)
	}
	os.WriteFile(pc, []byte("4:memory:/m\n"), 0o644)
	if _, err := ownCgroup(pc); !errors.Is(err, ErrNoCgroup2) {
		t.Errorf("ownCgroup without a 0:: line: %v, want ErrNoCgroup2", err)
	}
}

func TestGroupName(t *testing.T) {
	for in, want := range map[string]string{
		"foo":          "foo",
		"foo/log":      "foo:log",
		"/service/foo": "service:foo",
		"./foo/":       "foo",
		".":            "service:.",
		"cgroup.procs": "service:cgroup.procs",
	} {
		if got := GroupName(in); got != want {
			t.Errorf("GroupName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		f      func(string) (string, error)
		in     string
		want   string
		errors bool
	}{
		{ParseMemory, "max", "max", false},
		{ParseMemory, "1048576\n", "1048576", false},
		{ParseMemory, "64M", "67108864", false},
		{ParseMemory, "2g", "2147483648", false},
		{ParseMemory, "10 M", "", true},
		{ParseMemory, "-1", "", true},
		{ParseMemory, "", "", true},
		{ParseMemory, "99999999999T", "", true},
		{ParsePids, "20", "20", false},
		{ParsePids, "max", "max", false},
		{ParsePids, "x", "", true},
		{ParseCPUWeight, "100", "100", false},
		{ParseCPUWeight, "0", "", true},
		{ParseCPUWeight, "10001", "", true},
		{ParseCPUWeight, "10000", "10000", false},
	} {
		got, err := tc.f(tc.in)
		if got != tc.want || (err != nil) != tc.errors {
			t.Errorf("parse %q = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.errors)
		}
	}
}

func TestNotCgroup2(t *testing.T) {
	_, err := Open(Options{Dir: filepath.Join(t.TempDir(), "svinit")})
	if !errors.Is(err, ErrNoCgroup2) {
		t.Errorf("Open in a tmp dir: %v, want ErrNoCgroup2", err)
	}
}

// privateDir returns a directory for a Tree under the test's own cgroup
// (so the machine's other cgroups are left alone); the test fails if it
// is still there at the end.
func privateDir(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root (creates cgroups): run the tests as root")
	}
	own, _, err := Find()
	if err != nil {
		t.Fatalf("no cgroup2 hierarchy: %v (mount -t cgroup2 none /sys/fs/cgroup)", err)
	}
	dir := filepath.Join(own, fmt.Sprintf("svinit-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	t.Cleanup(func() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s is left behind", dir)
			os.Remove(dir)
		}
	})
	return dir
}

// TestTree: a Group takes a child started in it by spawn (clone3 or the
// fallback), holds what it forks, and Kill ends them all; Release and
// Close leave nothing behind.
func TestTree(t *testing.T) {
	for _, mode := range []string{"clone3", "fallback"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "fallback" {
				defer spawn.ForceCgroupProcs()()
			}
			tr, err := Open(Options{Dir: privateDir(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			g, err := tr.Group("foo/log")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Group("foo/log"); err == nil {
				t.Errorf("a second Group foo/log was made")
			}
			if filepath.Base(g.Path()) != "foo:log" {
				t.Errorf("group at %s, want .../foo:log", g.Path())
			}
			fd, err := g.OpenDir()
			if err != nil {
				t.Fatal(err)
			}
			r, w, _ := os.Pipe()
			defer r.Close()
			// A double fork: the grandchild outlives the child and
			// reports its pid.
			pid, err := spawn.Start("/bin/sh", []string{"sh", "-c", "(sleep 1000 & echo $!) ; exit 0"},
				&spawn.Attr{Files: []int{-1, int(w.Fd()), 2}, UseCgroupFD: true, CgroupFD: fd, Setsid: true})
			unix.Close(fd)
			w.Close()
			if err != nil {
				t.Fatal(err)
			}
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
			out := make([]byte, 32)
			n, _ := r.Read(out)
			gpid, err := strconv.Atoi(strings.TrimSpace(string(out[:n])))
			if err != nil {
				t.Fatalf("grandchild's pid: %q", out[:n])
			}
			cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", gpid))
			if !strings.Contains(string(cg), "/foo:log\n") {
				t.Errorf("the grandchild is in %q, want .../foo:log", cg)
			}
			if p, err := g.Populated(); !p || err != nil {
				t.Errorf("Populated = %v, %v with the grandchild in it", p, err)
			}
			st, err := ReadStats(g.Path())
			if err != nil || st.Processes != 1 {
				t.Errorf("ReadStats = %+v, %v; want 1 process", st, err)
			}
			if err := g.Kill(); err != nil {
				t.Fatal(err)
			}
			waitGone(t, gpid)
			g.Release()
			waitRemoved(t, g.Path())
			if err := tr.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Stat(tr.Dir()); !os.IsNotExist(err) {
				t.Errorf("%s still there after Close: %v", tr.Dir(), err)
			}
		})
	}
}

// waitGone waits until pid no longer exists (zombies are reaped by
// init: it was reparented).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still alive 10 s after cgroup.kill", pid)
		}
		time.Sleep(5 * time.Millisecond) // polling /proc: no event for another parent's child
	}
}

func waitRemoved(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not removed", dir)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTwoTrees: a subtree held by one supervisor is not taken by a
// second: it gets DIR-2.
func TestTwoTrees(t *testing.T) {
	dir := privateDir(t)
	a, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Dir() != dir || b.Dir() != dir+"-2" {
		t.Errorf("trees at %s and %s, want %s and %s-2", a.Dir(), b.Dir(), dir, dir)
	}
	b.Close()
	if _, err := os.Stat(dir + "-2"); !os.IsNotExist(err) {
		t.Errorf("%s-2 left behind", dir)
	}
}

// TestLimits: limits are written where the controller is enabled, and
// reported unavailable where it is not (this machine's cgroup2 may have
// no controllers: both branches are checked against what it has).
func TestLimits(t *testing.T) {
	tr, err := Open(Options{Dir: privateDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	g, err := tr.Group("lim")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	errs := g.SetLimits(Limits{MemoryMax: "67108864", PidsMax: "20", CPUWeight: "50"})
	for _, lm := range limits {
		var unavail *ErrUnavailable
		found := false
		for _, e := range errs {
			if errors.As(e, &unavail) && unavail.File == lm.file {
				found = true
			}
		}
		if tr.Has(lm.controller) {
			b, err := os.ReadFile(filepath.Join(g.Path(), lm.file))
			if err != nil || strings.TrimSpace(string(b)) != lm.get(&Limits{MemoryMax: "67108864", PidsMax: "20", CPUWeight: "50"}) {
				t.Errorf("%s = %q, %v", lm.file, b, err)
			}
			if found {
				t.Errorf("%s reported unavailable with %s enabled", lm.file, lm.controller)
			}
		} else if !found {
			t.Errorf("%s not reported unavailable without the %s controller: %v", lm.file, lm.controller, errs)
		}
	}
	// Removed from the service directory: back to the default.
	g.SetLimits(Limits{})
	if tr.Has("pids") {
		if b, _ := os.ReadFile(filepath.Join(g.Path(), "pids.max")); strings.TrimSpace(string(b)) != "max" {
			t.Errorf("pids.max = %q after the limit went away, want max", b)
		}
	}
	t.Logf("controllers in %s: %v", tr.Dir(), tr.Controllers())
}

// TestEnableAll: every controller a cgroup has is enabled for its
// children (a cgroup without processes, as the root is for this rule).
func TestEnableAll(t *testing.T) {
	dir := privateDir(t)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dir)
	on, err := EnableAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	avail, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	ctl, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	set := func(s string) string { f := strings.Fields(s); slices.Sort(f); return strings.Join(f, " ") }
	if strings.Join(on, " ") != set(string(avail)) || set(string(ctl)) != set(string(avail)) {
		t.Errorf("EnableAll = %v; cgroup.controllers %q, cgroup.subtree_control %q", on, avail, ctl)
	}
	if _, err := EnableAll(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("EnableAll of a plain directory: %v, want ErrNotExist", err)
	}
}

// TestStaleSubtree: a subtree left by a supervisor that died (no lock
// on it) is removed, with its empty cgroups, by the next one.
func TestStaleSubtree(t *testing.T) {
	dir := privateDir(t)
	a, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stale := dir + "-2"
	for _, d := range []string{stale, stale + "/x", stale + "/y"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// dir-2 is free: b takes it, and sweeps what it held.
	if b.Dir() != stale {
		t.Fatalf("second tree at %s, want %s", b.Dir(), stale)
	}
	if _, err := os.Stat(stale + "/x"); !os.IsNotExist(err) {
		t.Errorf("%s/x not swept: %v", stale, err)
	}
	b.Close()
	os.Mkdir(dir+"-3", 0o755)
	c, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(dir + "-3"); !os.IsNotExist(err) {
		t.Errorf("%s-3 (stale) not removed: %v", dir, err)
	}
}

// TestCgroupRefused: a start the kernel refuses for the cgroup (here one
// removed under its open descriptor) is told apart from a program that
// cannot run, so that a supervisor can start it without a cgroup.
func TestCgroupRefused(t *testing.T) {
	tr, err := Open(Options{Dir: privateDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	g, err := tr.Group("gone")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	fd, err := g.OpenDir()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := spawn.Start("/nonexistent", []string{"x"}, &spawn.Attr{UseCgroupFD: true, CgroupFD: fd}); err == nil || spawn.IsCgroupError(err) {
		t.Errorf("a missing program: %v, IsCgroupError %v; want an error that is not the cgroup's", err, spawn.IsCgroupError(err))
	}
	if err := os.Remove(g.Path()); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"clone3", "cgroup.procs"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "cgroup.procs" {
				defer spawn.ForceCgroupProcs()()
			}
			pid, err := spawn.Start("/bin/true", []string{"true"}, &spawn.Attr{UseCgroupFD: true, CgroupFD: fd})
			if err == nil {
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
				t.Fatalf("started in a removed cgroup")
			}
			if !spawn.IsCgroupError(err) {
				t.Errorf("%v: IsCgroupError false", err)
			}
		})
	}
}
