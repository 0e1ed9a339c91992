package boot

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// qemuDevices are the devices `make run` gives the VM.
var qemuDevices = []string{
	"-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
	"-device", "virtio-rng-pci",
}

var defaultImage = imageSpec{name: "default", def: "images/default.yaml"}

// TestDefaultImage boots images/default.yaml (gzip-compressed) once and
// checks, in order: the getty's shell on the serial console, the early
// services, the catch-all log, that every process is supervised, the
// boot time, and an orderly poweroff.
func TestDefaultImage(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, defaultImage)
	g := bootShell(t, e, "default", img, bootOpts{qemuArg: qemuDevices, watch: []string{gettyPromptSeq}}) // the early getty's shell answers on the console

	g.step(t, "EarlyServices", func(t *testing.T) {
		checkEarlyServices(t, g, []string{"svscan-log", "udev", "early-getty"})
	})
	g.step(t, "CatchAllLog", func(t *testing.T) {
		checkCatchAllLog(t, g, "")
	})
	g.step(t, "EverythingSupervised", func(t *testing.T) {
		checkSupervised(t, g)
	})
	g.step(t, "BootTime", func(t *testing.T) {
		s := svinitSample(t, g)
		t.Logf("default image: %s", s)
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}

// settleTimeout bounds how long settle waits for each service.
const settleTimeout = 90 * time.Second

// settle waits until each named service is supervised and up, and ready
// when it has a notification-fd. The getty's shell may answer before the
// device manager finished coldplug or stage 2 added its services (by
// design: a broken stage 2 must still leave a console), so checks of
// the booted state start from here. It never fails: the checks that
// follow report what did not come up, with svstat's view.
func settle(t *testing.T, g *guest, names []string) {
	var dirs []string
	for _, s := range names {
		dirs = append(dirs, "/run/service/"+s)
	}
	ms := settleTimeout.Milliseconds()
	out, rc := g.runStatus(settleTimeout*time.Duration(len(dirs)+1), fmt.Sprintf(
		`for d in %s; do n=0; while [ ! -e $d/supervise/status ] && [ $n -lt %d ]; do sleep 0.1; n=$((n + 1)); done; `+
			`if [ -e $d/notification-fd ]; then svwait -U -t %d $d; else svwait -u -t %d $d; fi || echo "not up: $d"; done`,
		strings.Join(dirs, " "), ms/100, ms, ms))
	if rc != 0 || strings.Contains(out, "not up") {
		t.Logf("settle: %s", strings.TrimSpace(out))
	}
}

// checkEarlyServices: each service is supervised and up, and ready when
// it has a notification-fd (once settle has given them time).
func checkEarlyServices(t *testing.T, g *guest, names []string) {
	settle(t, g, names)
	for _, s := range names {
		dir := "/run/service/" + s
		out, ok := g.check("svstat " + dir)
		if !ok {
			continue
		}
		// A service's logger may copy its lines to the console (the test
		// image's chatty/log does) while svstat runs: those lines are
		// not svstat's.
		out = strings.TrimSpace(withoutLogLines(out))
		t.Logf("svstat %s: %s", dir, out)
		if !strings.HasPrefix(out, "up (pid ") {
			t.Errorf("%s is not up: %s", s, out)
		}
		nfd, _ := g.runStatus(cmdTimeout, "cat "+dir+"/notification-fd 2>/dev/null")
		if strings.TrimSpace(nfd) != "" && !strings.Contains(out, "ready") {
			t.Errorf("%s has a notification-fd but is not ready: %s", s, out)
		}
	}
}

var labelRe = regexp.MustCompile(`^@[0-9a-f]{24} `)

// withoutLogLines drops the TAI64N-labelled lines (a logger's copies on
// the console) from a command's output.
func withoutLogLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !labelRe.MatchString(strings.TrimLeft(l, "\r")) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// checkCatchAllLog: /run/uncaught-logs/current exists, every line has a
// TAI64N label, svlog-cat reads it, and it holds want (when not empty).
func checkCatchAllLog(t *testing.T, g *guest, want string) string {
	raw := g.run("cat /run/uncaught-logs/current")
	lines := strings.Split(strings.TrimRight(raw, "\n"), "\n")
	if strings.TrimSpace(raw) == "" {
		lines = nil
	}
	for _, l := range lines {
		if !labelRe.MatchString(l) {
			t.Errorf("catch-all log line without a TAI64N label: %q", l)
		}
	}
	human := g.run("svlog-cat /run/uncaught-logs/current")
	t.Logf("catch-all log (%d lines, svlog-cat):\n%s", len(lines), human)
	dated := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} `)
	for _, l := range strings.Split(strings.TrimRight(human, "\n"), "\n") {
		if l != "" && !dated.MatchString(l) {
			t.Errorf("svlog-cat line without a date: %q", l)
		}
	}
	if want != "" && !strings.Contains(raw, want) {
		t.Errorf("the catch-all log does not hold %q", want)
	}
	return raw
}

// checkSupervised walks /proc in the guest (shell builtins only, so the
// walk starts no process) and checks that every process but PID 1 and
// kernel threads descends from PID 1 through a supervised service's
// process.
func checkSupervised(t *testing.T, g *guest) {
	out := g.run(`echo "SELF $$"; for d in /proc/[0-9]*; do if read -r s < $d/stat; then echo "PS $s"; fi; done 2>/dev/null; ` +
		`for s in /run/service/* /run/service/*/log; do if [ -d $s/supervise ]; then echo "SV $s $(svstat -o pid $s)"; fi; done`)
	procs := map[int]proc{}
	services := map[int]string{}
	self := 0
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "SELF "):
			self, _ = strconv.Atoi(strings.TrimSpace(l[5:]))
		case strings.HasPrefix(l, "PS "):
			p, err := parseStat(l[3:])
			if err != nil {
				t.Error(err)
				continue
			}
			procs[p.pid] = p
		case strings.HasPrefix(l, "SV "):
			f := strings.Fields(l)
			if len(f) != 3 {
				t.Errorf("bad service line %q", l)
				continue
			}
			if pid, err := strconv.Atoi(f[2]); err == nil && pid > 0 {
				services[pid] = f[1]
			}
		}
	}
	if p1, ok := procs[1]; !ok || p1.comm != "svscan" {
		t.Errorf("PID 1 is %q, want svscan", p1.comm)
	}
	if len(services) == 0 {
		t.Fatalf("no supervised service found:\n%s", out)
	}
	var pids []int
	for pid := range procs {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	var report []string
	user := 0
	for _, pid := range pids {
		p := procs[pid]
		if pid == 1 || p.kernelThread() {
			continue
		}
		user++
		chain := []string{fmt.Sprintf("%d(%s)", p.pid, p.comm)}
		cur := p
		for cur.ppid != 1 && len(chain) < 64 {
			parent, ok := procs[cur.ppid]
			if !ok {
				break
			}
			cur = parent
			chain = append(chain, fmt.Sprintf("%d(%s)", cur.pid, cur.comm))
		}
		path := strings.Join(chain, " <- ") + " <- 1(svscan)"
		if cur.ppid != 1 {
			if pid == self {
				continue
			}
			t.Errorf("process %d (%s) does not descend from PID 1: %s", pid, p.comm, path)
			continue
		}
		svc, ok := services[cur.pid]
		if !ok {
			t.Errorf("process %d (%s) is a child of PID 1 outside any service: %s", pid, p.comm, path)
			continue
		}
		report = append(report, fmt.Sprintf("%s  [service %s]", path, svc))
	}
	t.Logf("%d user processes, all under services:\n%s", user, strings.Join(report, "\n"))
	if user == 0 {
		t.Errorf("no user process found in /proc")
	}
}

var finalRe = `svinit-final: %s: orderly shutdown took ([0-9.]+[a-zµ]+)[\r\n]`

// shutdown types poweroff or reboot in the shell, waits for the final
// stage's line and QEMU's exit, and returns the time the final stage
// reports. before, if set, must have appeared on the console by then.
func shutdown(t *testing.T, g *guest, action, before string) time.Duration {
	if before != "" {
		g.rec.watchFor(before)
	}
	g.send(action + "\n")
	m := g.expectRe(cmdTimeout, fmt.Sprintf(finalRe, action))
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Errorf("cannot read the shutdown time %q: %v", m[1], err)
	}
	t.Logf("%s: orderly shutdown took %v (guest clock, svinit-final)", action, d)
	if before != "" {
		if _, ok := g.rec.at(before); !ok {
			t.Errorf("%q did not reach the console before the end of the %s: a service's last words were lost", before, action)
		}
	}
	g.wait(cmdTimeout)
	return d
}
