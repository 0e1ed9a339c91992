package timeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func lockOFD(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// near reports whether p is set and within a microsecond of want.
func near(p *Sec, want float64) bool {
	return p != nil && math.Abs(float64(*p)-want) < 1e-6
}

func rowOf(t *testing.T, tl *Timeline, name string) *Row {
	t.Helper()
	for i := range tl.Services {
		if tl.Services[i].Name == name {
			return &tl.Services[i]
		}
	}
	t.Fatalf("no row %q in %+v", name, tl.Services)
	return nil
}

func show(p *Sec) string {
	if p == nil {
		return "nil"
	}
	return fmtSec(*p)
}

func TestCollect(t *testing.T) {
	b := standard(t)
	tl := b.collect("stage 2 adds services", "never logged")
	if !near(tl.RunInit, 0.812345) || tl.Init != "/init" {
		t.Errorf("Run /init: %s %q, want 0.812345 /init", show(tl.RunInit), tl.Init)
	}
	if !tl.KernelStarted.Equal(epoch) || math.Abs(float64(tl.Taken)-6.5) > 1e-9 {
		t.Errorf("kernel started %v, taken %v; want %v, 6.5", tl.KernelStarted, tl.Taken, epoch)
	}
	for _, tc := range []struct {
		name, kind, state string
		pid               int
		notifies          bool
		spawned, ready    float64 // -1: none
		down, done        float64 // -1: none
		deaths            []string
		logs              int
	}{
		{"svscan-log", KindLongrun, StateUp, 40, true, 0.905, 0.931, -1, -1, nil, 0},
		{"udev", KindLongrun, StateUp, 41, true, 0.906, 1.850, -1, -1, nil, 0},
		{"early-getty", KindLongrun, StateUp, 42, false, 0.907, -1, -1, -1, nil, 0},
		{"flaky", KindLongrun, StateUp, 77, true, 3.2, -1, -1, -1, []string{"exit 1", "signal SIGSEGV"}, 1},
		{"web", KindLongrun, StateUp, 50, false, 2.1, -1, -1, -1, nil, 0},
		{"web/log", KindLongrun, StateUp, 51, true, 2.0, 2.05, -1, -1, nil, 1},
		{"batch", KindLongrun, StateDown, 0, false, -1, -1, 4.0, -1, []string{"exit 3"}, 0},
		{"idle", KindLongrun, StateNotStarted, 0, false, -1, -1, -1, -1, nil, 0},
		{"mnt", KindOneshot, StateDone, 0, false, -1, -1, -1, 1.5, nil, 0},
		{"net", KindOneshot, StateFailed, 0, false, -1, -1, -1, -1, nil, 1},
	} {
		r := rowOf(t, tl, tc.name)
		opt := func(p *Sec, want float64) bool {
			if want < 0 {
				return p == nil
			}
			return near(p, want)
		}
		if r.Kind != tc.kind || r.State != tc.state || r.Pid != tc.pid || r.Notifies != tc.notifies {
			t.Errorf("%s: kind %q state %q pid %d notifies %v; want %q %q %d %v", tc.name, r.Kind, r.State, r.Pid, r.Notifies, tc.kind, tc.state, tc.pid, tc.notifies)
		}
		if !opt(r.Spawned, tc.spawned) || !opt(r.Ready, tc.ready) || !opt(r.DownSince, tc.down) || !opt(r.Done, tc.done) {
			t.Errorf("%s: spawned %s ready %s down %s done %s; want %v %v %v %v", tc.name, show(r.Spawned), show(r.Ready), show(r.DownSince), show(r.Done), tc.spawned, tc.ready, tc.down, tc.done)
		}
		var deaths []string
		for _, d := range r.Deaths {
			deaths = append(deaths, d.What())
		}
		if !reflect.DeepEqual(deaths, tc.deaths) {
			t.Errorf("%s: deaths %q, want %q", tc.name, deaths, tc.deaths)
		}
		if len(r.Log) != tc.logs {
			t.Errorf("%s: log %+v, want %d line(s)", tc.name, r.Log, tc.logs)
		}
	}
	if f := rowOf(t, tl, "flaky"); len(f.Deaths) == 2 && (math.Abs(float64(f.Deaths[0].At)-1.6) > 1e-6 || math.Abs(float64(f.Deaths[1].At)-2.7) > 1e-6) {
		t.Errorf("flaky's deaths at %v, %v; want 1.6, 2.7", f.Deaths[0].At, f.Deaths[1].At)
	}
	if n := rowOf(t, tl, "net"); len(n.Log) == 1 && (n.Log[0].Text != "svrc: transition failed: up script failed: exit 1" || !near(&n.Log[0].At, 2.4)) {
		t.Errorf("net's failure: %+v", n.Log[0])
	}
	// The log line about web/log belongs to the logger, not to web.
	if w := rowOf(t, tl, "web"); len(w.Log) != 0 {
		t.Errorf("web got its logger's line: %+v", w.Log)
	}
	if len(tl.Marks) != 1 || !near(&tl.Marks[0].At, 1.2) || tl.Marks[0].Text != "boottest: stage 2 adds services" {
		t.Errorf("marks %+v", tl.Marks)
	}
	if !hasWarning(tl, `mark "never logged"`) {
		t.Errorf("no warning for the mark never logged: %q", tl.Warnings)
	}
	// Sorted by first event: kernel-less rows by their first event,
	// the never-started service last.
	var order []string
	for _, r := range tl.Services {
		order = append(order, r.Name)
	}
	want := []string{"svscan-log", "udev", "early-getty", "mnt", "flaky", "web/log", "web", "net", "batch", "idle"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order %q, want %q", order, want)
	}
	if s := tl.Summarize(); s.Running != 6 || math.Abs(float64(s.LastSpawned)-3.2) > 1e-6 || !reflect.DeepEqual(s.NotReady, []string{"flaky"}) || math.Abs(float64(s.LastReady)-2.1) > 1e-6 {
		t.Errorf("summary %+v", s)
	}
}

func hasWarning(tl *Timeline, s string) bool {
	for _, w := range tl.Warnings {
		if strings.Contains(w, s) {
			return true
		}
	}
	return false
}

func TestCollectSources(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(b *fakeBoot, o *Options)
		check func(t *testing.T, tl *Timeline)
	}{
		{"no kernel log", func(b *fakeBoot, o *Options) { os.Remove(b.kmsg) }, func(t *testing.T, tl *Timeline) {
			if tl.RunInit != nil || !hasWarning(tl, "kernel log") {
				t.Errorf("run init %s, warnings %q", show(tl.RunInit), tl.Warnings)
			}
		}},
		{"wrapped kernel log", func(b *fakeBoot, o *Options) { b.write(b.kmsg, []byte("6,900,99000000,-;much later\n")) }, func(t *testing.T, tl *Timeline) {
			if tl.RunInit != nil || !hasWarning(tl, "ring buffer may have wrapped") {
				t.Errorf("run init %s, warnings %q", show(tl.RunInit), tl.Warnings)
			}
		}},
		{"no log dir", func(b *fakeBoot, o *Options) { os.RemoveAll(b.logs) }, func(t *testing.T, tl *Timeline) {
			if !hasWarning(tl, "catch-all log "+filepath.Dir(tl.Scandir)+"/uncaught-logs: no such file") {
				t.Errorf("warnings %q", tl.Warnings)
			}
		}},
		{"log not read", func(b *fakeBoot, o *Options) { o.LogDir = "" }, func(t *testing.T, tl *Timeline) {
			if len(tl.Warnings) != 1 || !hasWarning(tl, "mark") { // only the marks that cannot be found
				t.Errorf("warnings %q", tl.Warnings)
			}
		}},
		{"unlabelled log", func(b *fakeBoot, o *Options) {
			os.RemoveAll(b.logs)
			b.write(filepath.Join(b.logs, "current"), []byte("plain line\n"))
		}, func(t *testing.T, tl *Timeline) {
			if !hasWarning(tl, "no line starts with a TAI64N label") {
				t.Errorf("warnings %q", tl.Warnings)
			}
		}},
		{"empty log", func(b *fakeBoot, o *Options) {
			os.RemoveAll(b.logs)
			b.write(filepath.Join(b.logs, "current"), nil)
			o.Marks = nil
		}, func(t *testing.T, tl *Timeline) {
			if len(tl.Warnings) != 0 {
				t.Errorf("warnings %q", tl.Warnings)
			}
		}},
		{"clock set since the spawns", func(b *fakeBoot, o *Options) {
			// The kernel started udev's process 30 s after what its
			// status file says.
			b.service(svc{name: "udev", supervised: true, notifyFd: true, st: up(41, 0.906, 1.850), procStart: 30.906})
		}, func(t *testing.T, tl *Timeline) {
			if !hasWarning(tl, "the realtime clock was set in between") || !near(rowOf(t, tl, "udev").ProcStarted, 30.91) {
				t.Errorf("warnings %q", tl.Warnings)
			}
		}},
		{"supervisor gone", func(b *fakeBoot, o *Options) {
			b.service(svc{name: "orphan", st: up(99, 1, 1.5)})
		}, func(t *testing.T, tl *Timeline) {
			if r := rowOf(t, tl, "orphan"); r.State != StateNotSupervised || r.Pid != 0 || !hasWarning(tl, "no supervisor holds") {
				t.Errorf("orphan %+v, warnings %q", r, tl.Warnings)
			}
		}},
		{"torn death tally", func(b *fakeBoot, o *Options) {
			b.write(filepath.Join(b.scan, "flaky", "supervise", "death_tally"), make([]byte, 15))
		}, func(t *testing.T, tl *Timeline) {
			if r := rowOf(t, tl, "flaky"); len(r.Deaths) != 0 || !hasWarning(tl, "not a multiple of 14") {
				t.Errorf("flaky %+v, warnings %q", r, tl.Warnings)
			}
		}},
		{"corrupt status", func(b *fakeBoot, o *Options) {
			b.write(filepath.Join(b.scan, "udev", "supervise", "status"), []byte("short"))
		}, func(t *testing.T, tl *Timeline) {
			if r := rowOf(t, tl, "udev"); r.State != StateNotSupervised || !hasWarning(tl, "truncated") {
				t.Errorf("udev %+v, warnings %q", r, tl.Warnings)
			}
		}},
		{"not yet supervised", func(b *fakeBoot, o *Options) {
			b.write(filepath.Join(b.scan, "new", "run"), []byte("#!/bin/sh\n"))
			b.write(filepath.Join(b.scan, ".hidden", "run"), []byte("#!/bin/sh\n"))
			b.write(filepath.Join(b.scan, "file"), nil)
		}, func(t *testing.T, tl *Timeline) {
			if r := rowOf(t, tl, "new"); r.State != StateNotSupervised || r.Spawned != nil {
				t.Errorf("new %+v", r)
			}
			for _, r := range tl.Services {
				if r.Name == ".hidden" || r.Name == "file" {
					t.Errorf("row for %q", r.Name)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := standard(t)
			o := b.options("stage 2 adds services", "never logged")
			tc.setup(b, &o)
			tl, err := Collect(o)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, tl)
		})
	}
}

func TestCollectNoScandir(t *testing.T) {
	_, err := Collect(Options{Scandir: filepath.Join(t.TempDir(), "none")})
	if err == nil || !strings.Contains(err.Error(), "none: no such file or directory (give svscan's scan directory with -d)") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRunInit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		at   time.Duration
		prog string
		err  string
	}{
		{"5,300,812345,-;Run /init as init process\n", 812345 * time.Microsecond, "/init", ""},
		{"6,1,0,-;x\n SUBSYSTEM=y\n6,2,9,-;Run /sbin/init as init process\n6,3,10,-;Run /bbin/init as init process\n", 9 * time.Microsecond, "/sbin/init", ""},
		{"6,2,9,-,caller=T1;Run /init as init process", 9 * time.Microsecond, "/init", ""},
		{" Run /init as init process\n", 0, "", "no \"Run"},
		{"6,1,0,-;Run /init as init process, not\n", 0, "", "no \"Run"},
		{"6,1;Run /init as init process\n", 0, "", "want PRIO,SEQ,USEC,FLAGS"},
		{"6,1,x,-;Run /init as init process\n", 0, "", `time "x"`},
		{"", 0, "", "no \"Run"},
	} {
		d, prog, err := parseRunInit([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || d != tc.at || prog != tc.prog {
			t.Errorf("%q: %v %q %v; want %v %q", tc.in, d, prog, err, tc.at, tc.prog)
		}
	}
}

// TestRunInitDevKmsg reads the running kernel's log: it must have the
// line (this machine booted with an init) unless the ring buffer
// wrapped.
func TestRunInitDevKmsg(t *testing.T) {
	d, prog, err := RunInit("/dev/kmsg")
	if errors.Is(err, ErrNoRunInit) {
		t.Logf("kernel log wrapped since the boot: %v", err)
		return
	}
	if errors.Is(err, os.ErrPermission) {
		t.Fatalf("/dev/kmsg: %v (run the tests as root, or sysctl kernel.dmesg_restrict=0)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || d > 10*time.Minute || !strings.HasPrefix(prog, "/") {
		t.Errorf("Run %q as init process at %v", prog, d)
	}
}

func TestStatStart(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  bool
	}{
		{"1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 1", 42, false},
		{"7 (a b) c)) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 4321 1000 1", 4321, false},
		{"7 (a) S 0 1", 0, true},
		{"no parenthesis", 0, true},
	} {
		got, err := statStart(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: %d %v", tc.in, got, err)
		}
	}
}

func TestReadClock(t *testing.T) {
	c, err := ReadClock()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	var up float64
	if _, err := fmt.Sscan(string(b), &up); err != nil {
		t.Fatal(err)
	}
	// /proc/uptime is CLOCK_BOOTTIME too, read just after.
	if d := up - c.Boottime.Seconds(); d < -0.01 || d > 5 {
		t.Errorf("CLOCK_BOOTTIME %v, /proc/uptime %.2f s", c.Boottime, up)
	}
	if d := time.Since(c.Realtime); d < 0 || d > 5*time.Second {
		t.Errorf("realtime %v is %v from now", c.Realtime, d)
	}
	if !c.KernelStarted().Equal(c.Realtime.Add(-c.Boottime)) {
		t.Errorf("KernelStarted %v", c.KernelStarted())
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		span, min, want float64
		label           string
	}{
		{6.5, 1.1, 2, "2s"},
		{6.5, 0.9, 1, "1s"},
		{0.8, 0.13, 0.2, "0.2s"},
		{120, 17, 20, "20s"},
		{0.05, 0.004, 0.005, "0.005s"},
		{3, 1, 1, "1s"},
	} {
		got := ticks(tc.span, tc.min)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("ticks(%v, %v) = %v, want %v", tc.span, tc.min, got, tc.want)
		}
		if l := tickLabel(got, got); l != tc.label {
			t.Errorf("tickLabel(%v) = %q, want %q", got, l, tc.label)
		}
	}
	if l := tickLabel(0, 0.2); l != "0s" {
		t.Errorf("tickLabel(0) = %q", l)
	}
}

func TestJSON(t *testing.T) {
	tl := standard(t).collect("stage 2 adds services")
	var buf bytes.Buffer
	if err := tl.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema        string    `json:"schema"`
		KernelStarted time.Time `json:"kernel_started"`
		Taken         float64   `json:"taken"`
		RunInit       *float64  `json:"run_init"`
		Services      []struct {
			Name     string   `json:"name"`
			Kind     string   `json:"kind"`
			State    string   `json:"state"`
			Notifies bool     `json:"notifies"`
			Spawned  *float64 `json:"spawned"`
			Ready    *float64 `json:"ready"`
			Deaths   []struct {
				At     float64 `json:"at"`
				Exit   *int    `json:"exit"`
				Signal string  `json:"signal"`
			} `json:"deaths"`
		} `json:"services"`
		Marks []struct {
			At   float64 `json:"at"`
			Text string  `json:"text"`
		} `json:"marks"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if doc.Schema != Schema || !doc.KernelStarted.Equal(epoch) || doc.Taken != 6.5 || doc.RunInit == nil || *doc.RunInit != 0.812345 {
		t.Errorf("head: %+v", doc)
	}
	if len(doc.Services) != len(tl.Services) || doc.Services[1].Name != "udev" || *doc.Services[1].Spawned != 0.906 || *doc.Services[1].Ready != 1.85 {
		t.Errorf("services: %+v", doc.Services)
	}
	for _, s := range doc.Services {
		if s.Name == "flaky" && (len(s.Deaths) != 2 || *s.Deaths[0].Exit != 1 || s.Deaths[1].Signal != "SIGSEGV" || s.Deaths[1].Exit != nil) {
			t.Errorf("flaky: %+v", s)
		}
	}
	if len(doc.Marks) != 1 || doc.Marks[0].At != 1.2 {
		t.Errorf("marks %+v", doc.Marks)
	}
	if bytes.Contains(buf.Bytes(), []byte("e-")) || bytes.Contains(buf.Bytes(), []byte("e+")) {
		t.Errorf("times must be plain decimals:\n%s", buf.String())
	}
	bad := &Timeline{Taken: Sec(math.NaN())}
	if err := bad.WriteJSON(&buf); err == nil {
		t.Errorf("NaN marshalled")
	}
}

func FuzzParseRunInit(f *testing.F) {
	for _, s := range []string{"5,300,812345,-;Run /init as init process\n", "6,1,0,-;x\n SUBSYSTEM=y\n", ";Run  as init process", "1,2,3,4;Run /x as init process\n 6,1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, prog, err := parseRunInit(b)
		if err == nil && (d < 0 || !bytes.Contains(b, []byte("Run "+prog+" as init process"))) {
			t.Fatalf("%q: %v %q", b, d, prog)
		}
	})
}
