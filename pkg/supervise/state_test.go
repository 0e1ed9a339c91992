package supervise

import (
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
)

// TestNextStart: the one decision of when ./run starts next, for each
// cause, wanted up or not, started long ago or just now.
func TestNextStart(t *testing.T) {
	long, now := time.Now().Add(-2*SpawnGap), time.Now()
	for _, tc := range []struct {
		name    string
		why     startCause
		wantUp  bool
		spawned time.Time
		retry   time.Duration
		due     func(time.Duration) bool
	}{
		{"begin, wanted up", startBegin, true, time.Time{}, 0, at(0)},
		{"begin, wanted down", startBegin, false, time.Time{}, 0, at(never)},
		{"u while down", startAsked, true, now, 0, at(0)},
		{"o while down: once, though wanted down", startAsked, false, now, 0, at(0)},
		{"timer, wanted up", startDelayed, true, now, 0, at(0)},
		{"timer, wanted down", startDelayed, false, now, 0, at(never)},
		{"death, started long ago", startDied, true, long, 0, at(0)},
		{"death, never started", startDied, true, time.Time{}, 0, at(0)},
		{"death, started just now", startDied, true, now, 0, func(d time.Duration) bool { return d > 0 && d <= SpawnGap }},
		{"death, wanted down", startDied, false, long, 0, at(never)},
		{"spawn failed", startFailed, true, now, SpawnRetryDelay, at(SpawnRetryDelay)},
		{"spawn failed, wanted down: the timer decides", startFailed, false, now, SetupRetryDelay, at(SetupRetryDelay)},
		{"lock-fd is notification-fd", startFailed, true, now, never, at(never)},
	} {
		s := &Service{spawned: tc.spawned}
		s.status.WantUp = tc.wantUp
		if d := s.nextStart(tc.why, tc.retry); !tc.due(d) {
			t.Errorf("%s: next start in %v", tc.name, d)
		}
	}
}

func at(want time.Duration) func(time.Duration) bool {
	return func(d time.Duration) bool { return d == want }
}

// TestStepWithoutActions: transitions of step that call no action: x in
// each state, and events of another generation or child, which change
// nothing.
func TestStepWithoutActions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		st       state
		ev       event
		want     state
		bail     bool
		quietEnd bool
	}{
		{name: "x while down", st: stDown, ev: event{kind: evLetter, letter: 'x'}, want: stDown, bail: true},
		{name: "x while up", st: stUp, ev: event{kind: evLetter, letter: 'x'}, want: stLastUp},
		{name: "x while finishing", st: stFinish, ev: event{kind: evLetter, letter: 'x'}, want: stLastFinish},
		{name: "x again", st: stLastUp, ev: event{kind: evLetter, letter: 'x'}, want: stLastUp},
		{name: "x from the FIFO", st: stUp, ev: event{kind: evLetter, letter: 'x', fifo: true}, want: stLastUp, quietEnd: true},
		{name: "exit of another child", st: stUp, ev: event{kind: evExit, exit: reaper.Exit{Pid: 2}}, want: stUp},
		{name: "exit while down", st: stDown, ev: event{kind: evExit, exit: reaper.Exit{Pid: 2}}, want: stDown},
		{name: "stale timer while down and wanted up", st: stDown, ev: event{kind: evTimer, gen: 7}, want: stDown},
		{name: "stale timer while finishing", st: stFinish, ev: event{kind: evTimer, gen: 7}, want: stFinish},
		{name: "stale readiness", st: stUp, ev: event{kind: evReady, gen: 7}, want: stUp},
		{name: "readiness while finishing", st: stFinish, ev: event{kind: evReady}, want: stFinish},
	} {
		// A pid no process can have: an action that signalled it by
		// mistake would reach nobody.
		s := &Service{st: tc.st, pid: 1 << 30, dfd: -1, logQ: t.Logf}
		if tc.st == stDown {
			s.pid = 0
			s.status.WantUp = true
		}
		s.step(tc.ev)
		if s.st != tc.want || s.bail != tc.bail || s.quietEnd != tc.quietEnd {
			t.Errorf("%s: state %v bail %v quietEnd %v, want %v %v %v", tc.name, s.st, s.bail, s.quietEnd, tc.want, tc.bail, tc.quietEnd)
		}
		if s.timer != nil || s.killer != nil || s.status.Ready || s.status.Pid != 0 {
			t.Errorf("%s: an action ran: %+v", tc.name, s.status)
		}
	}
}
