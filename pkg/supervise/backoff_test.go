package supervise

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// TestBackoff: the delay after each death in a row: s6's first, then
// doubling from 2 s, shortened by at most a quarter, capped, never under
// s6's.
func TestBackoff(t *testing.T) {
	low := func(n int64) int64 { return n - 1 } // the most jitter
	none := func(int64) int64 { return 0 }
	for _, tc := range []struct {
		streak      uint32
		base, limit time.Duration
		randN       func(int64) int64
		want        time.Duration
	}{
		{1, 0, time.Minute, none, 0},
		{1, time.Second, time.Minute, none, time.Second},
		{2, 0, time.Minute, none, 2 * time.Second},
		{2, 0, time.Minute, low, 1500*time.Millisecond + 1},
		{3, time.Second, time.Minute, none, 4 * time.Second},
		{7, 0, time.Minute, none, time.Minute},
		{7, 0, time.Minute, low, 45*time.Second + 1},
		{40, 0, time.Minute, none, time.Minute},
		{1 << 31, 0, time.Minute, none, time.Minute},
		{5, time.Second, 0, none, time.Second},                                           // cap 0: s6's rule
		{5, 800 * time.Millisecond, 500 * time.Millisecond, low, 800 * time.Millisecond}, // never under s6's
	} {
		if got := backoff(tc.streak, tc.base, tc.limit, tc.randN); got != tc.want {
			t.Errorf("backoff(%d, %v, %v) = %v, want %v", tc.streak, tc.base, tc.limit, got, tc.want)
		}
	}
}

// TestNextStartBackoff: nextStart after deaths in a row of a service that
// dies at once grows and caps; a healthy run starts it afresh; with
// svinit-no-backoff (or the option) it is s6's rule each time.
func TestNextStartBackoff(t *testing.T) {
	type death struct {
		lived  time.Duration
		lo, hi time.Duration // the delay's bounds
		streak uint32
	}
	quick := func(lo, hi time.Duration, streak uint32) death { return death{0, lo, hi, streak} }
	for _, tc := range []struct {
		name      string
		noBackoff bool // the file
		option    bool // Options.NoBackoff
		deaths    []death
	}{
		{"grows and caps", false, false, []death{
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 1),
			quick(1500*time.Millisecond, 2*time.Second, 2),
			quick(3*time.Second, 4*time.Second, 3),
			quick(6*time.Second, 8*time.Second, 4),
			quick(6*time.Second, 8*time.Second, 5),
		}},
		{"reset by a healthy run", false, false, []death{
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 1),
			quick(1500*time.Millisecond, 2*time.Second, 2),
			{10 * time.Second, 0, 0, 0},
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 1),
		}},
		{"a run of a second or more: at once, count kept", false, false, []death{
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 1),
			{2 * time.Second, 0, 0, 1},
			{2 * time.Second, 0, 0, 1},
			quick(1500*time.Millisecond, 2*time.Second, 2),
		}},
		{"svinit-no-backoff", true, false, []death{
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 0),
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 0),
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 0),
		}},
		{"Options.NoBackoff", false, true, []death{
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 0),
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 0),
			quick(SpawnGap-50*time.Millisecond, SpawnGap, 0),
		}},
	} {
		s := &Service{opts: Options{NoBackoff: tc.option}}
		s.cfg = servicedir.Defaults("x")
		s.cfg.RestartMax, s.cfg.NoBackoff = 8*time.Second, tc.noBackoff
		s.status.WantUp = true
		for i, d := range tc.deaths {
			s.lived = d.lived
			s.spawned = time.Now().Add(-d.lived)
			got := s.nextStart(startDied, 0)
			if got < d.lo || got > d.hi || s.rs.Streak != d.streak || s.rs.Delay != got {
				t.Errorf("%s: death %d: delay %v streak %d (recorded %v), want %v..%v streak %d",
					tc.name, i+1, got, s.rs.Streak, s.rs.Delay, d.lo, d.hi, d.streak)
			}
			if s.rs.Restarts != uint32(i+1) || s.rs.NoBackoff != (tc.noBackoff || tc.option) {
				t.Errorf("%s: death %d: restarts %d no-backoff %v", tc.name, i+1, s.rs.Restarts, s.rs.NoBackoff)
			}
		}
	}
}

// TestRecentDeaths: the deaths kept for svinit-permafail-deaths.
func TestRecentDeaths(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var d []time.Time
	for i := range 5 {
		d = recentDeaths(d, t0.Add(time.Duration(i)*time.Second), 3, 10*time.Second)
	}
	if len(d) != 3 || !d[0].Equal(t0.Add(2*time.Second)) {
		t.Errorf("kept %v, want the newest 3", d)
	}
	d = recentDeaths(d, t0.Add(14*time.Second), 3, 10*time.Second)
	if len(d) != 2 {
		t.Errorf("kept %v, want the 2 within 10 s of the last", d)
	}
	if d = recentDeaths(d, t0.Add(15*time.Second), 0, time.Minute); len(d) != 0 {
		t.Errorf("kept %v with svinit-permafail-deaths 0", d)
	}
}

// spawnRecorder is a ./run that appends its start time (ns since the
// epoch) to ../spawns, then stays up while ./stay exists, else dies.
const spawnRecorder = "#!/bin/sh\ndate +%s%N >> ../spawns\n[ -e stay ] && exec sleep 100000\nexit 1\n"

// spawnGaps returns the time between consecutive spawns recorded by
// spawnRecorder in the harness's parent directory.
func spawnGaps(t *testing.T, dir string) []time.Duration {
	t.Helper()
	at := spawnTimes(t, dir)
	var gaps []time.Duration
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]))
	}
	return gaps
}

// spawnTimes returns the spawns recorded by spawnRecorder.
func spawnTimes(t *testing.T, dir string) []time.Time {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "..", "spawns"))
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for _, l := range strings.Fields(string(b)) {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatalf("spawns: %q: %v (GNU date from coreutils needed)", l, err)
		}
		at = append(at, time.Unix(0, n))
	}
	return at
}

// startRecorder supervises spawnRecorder in a directory of its own
// (spawns is written next to it).
func startRecorder(t *testing.T, files map[string]string, opts Options) *harness {
	t.Helper()
	files["run"] = spawnRecorder
	h := startWith(t, files, opts)
	// The harness's directory is a fresh t.TempDir: its parent holds
	// nothing else of ours but spawns.
	return h
}

func readRestart(t *testing.T, dir string) servicedir.Restart {
	t.Helper()
	r, err := servicedir.ReadRestart(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCrashLoopBackoff: the spawns of a service that dies at once come
// after s6's second, then a longer and longer delay up to
// svinit-restart-max; supervise/svinit-restart says so; once the service
// stays up for svinit-restart-reset, its next death restarts it at once
// (s6's rule) and the delays start again from a second.
func TestCrashLoopBackoff(t *testing.T) {
	h := startRecorder(t, map[string]string{
		servicedir.RestartMax:   "2500",
		servicedir.RestartReset: "1500",
	}, Options{})
	h.waitEvents("uuuuuu") // the 6th: the 5th has written its line
	gaps := spawnGaps(t, h.dir)[:4]
	bounds := [][2]time.Duration{
		{900 * time.Millisecond, 1400 * time.Millisecond},  // s6's
		{1450 * time.Millisecond, 2400 * time.Millisecond}, // 2 s, jittered
		{1850 * time.Millisecond, 2900 * time.Millisecond}, // capped at 2.5 s
		{1850 * time.Millisecond, 2900 * time.Millisecond},
	}
	for i, g := range gaps {
		if g < bounds[i][0] || g > bounds[i][1] {
			t.Errorf("gap %d between spawns: %v, want %v..%v (all: %v)", i+1, g, bounds[i][0], bounds[i][1], gaps)
		}
	}
	r := readRestart(t, h.dir)
	if r.Restarts < 4 || r.Streak < 4 || r.Delay < 1875*time.Millisecond || r.Delay > 2500*time.Millisecond || r.NoBackoff || r.PermFail {
		t.Errorf("supervise/svinit-restart: %+v, want >= 4 restarts in a row, delay near the 2.5 s cap", r)
	}
	// A healthy run: up for svinit-restart-reset clears the streak.
	writeFiles(t, h.dir, map[string]string{"stay": ""})
	waitFor(t, "the streak to reset after 1.5 s up", func() bool {
		r, err := servicedir.ReadRestart(h.dir)
		return err == nil && r.Streak == 0 && !r.Due()
	})
	if err := os.Remove(filepath.Join(h.dir, "stay")); err != nil {
		t.Fatal(err)
	}
	n := len(spawnGaps(t, h.dir))
	killed := time.Now()
	h.control("k")
	waitFor(t, "two spawns after svc -k", func() bool { return len(spawnGaps(t, h.dir)) >= n+2 })
	at := spawnTimes(t, h.dir)[n+1:]
	if d := at[0].Sub(killed); d > 500*time.Millisecond {
		t.Errorf("after a healthy run: restarted %v after svc -k, want at once", d)
	}
	if d := at[1].Sub(at[0]); d < 900*time.Millisecond || d > 1400*time.Millisecond {
		t.Errorf("after a healthy run, the next quick death: restarted after %v, want s6's second", d)
	}
}

// TestNoBackoffIsS6: with svinit-no-backoff, or the scanner's option, a
// crash loop restarts once a second, as s6-supervise does, forever.
func TestNoBackoffIsS6(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		opts  Options
	}{
		{"file", map[string]string{servicedir.NoBackoff: ""}, Options{}},
		{"option", map[string]string{}, Options{NoBackoff: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startRecorder(t, tc.files, tc.opts)
			h.waitEvents("uuuuuu") // the 6th: the 5th has written its line
			for i, g := range spawnGaps(t, h.dir)[:4] {
				if g < 900*time.Millisecond || g > 1400*time.Millisecond {
					t.Errorf("gap %d between spawns: %v, want s6's second", i+1, g)
				}
			}
			if r := readRestart(t, h.dir); r.Streak != 0 || !r.NoBackoff || r.Restarts < 4 {
				t.Errorf("supervise/svinit-restart: %+v, want no streak, backoff off", r)
			}
		})
	}
}

// TestPermafail: svinit-permafail-deaths deaths within
// svinit-permafail-window: the service stays down, wanted down, the log
// says why, 'O' is announced; svc -u starts it again.
func TestPermafail(t *testing.T) {
	h := startRecorder(t, map[string]string{
		servicedir.PermafailDeaths: "3",
		servicedir.PermafailWindow: "60000",
		servicedir.RestartMax:      "1000",
	}, Options{})
	h.waitEvents("udDudDudDO")
	if st := h.status(); st.WantUp || st.Pid != 0 {
		t.Errorf("status after the permanent failure: %+v, want down and wanted down", st)
	}
	if !h.logged("3 deaths in 1m0s (svinit-permafail-deaths, svinit-permafail-window): permanent failure") {
		t.Errorf("log does not say why: %q", h.logs)
	}
	if r := readRestart(t, h.dir); !r.PermFail || r.Due() {
		t.Errorf("supervise/svinit-restart: %+v, want the permanent failure, no start due", r)
	}
	n := len(spawnGaps(t, h.dir))
	if n != 2 {
		t.Errorf("%d spawns, want 3", n+1)
	}
	h.control("u")
	h.waitEvents("u")
	waitFor(t, "svc -u to clear the permanent failure in supervise/svinit-restart", func() bool {
		r, err := servicedir.ReadRestart(h.dir)
		return err == nil && !r.PermFail
	})
}
