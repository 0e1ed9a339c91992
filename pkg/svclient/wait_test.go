package svclient_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient"
	"github.com/svinit/svinit/pkg/svclient/svtest"
)

// long is a deadline for waits that must succeed: generous, since the
// machine may be loaded; short is for waits that must time out.
const (
	long  = time.Minute
	short = 50 * time.Millisecond
)

var (
	upNotReady = svtest.Up(100)
	upReady    = func() servicedir.Status { s := svtest.Up(100); s.Ready = true; return s }()
	downDone   = svtest.Down(0, true)
	finishing  = func() servicedir.Status { s := svtest.Up(100); s.Finishing = true; return s }()
)

func TestWaitOne(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial servicedir.Status
		events  string
		letter  byte
		want    string // "ok", "timeout", "died", "failed"
	}{
		{"already up", upNotReady, "", 'u', "ok"},
		{"up by event", downDone, "u", 'u', "ok"},
		{"start event is not up", downDone, "s", 'u', "timeout"},
		{"ready needs U", downDone, "u", 'U', "timeout"},
		{"ready by event", downDone, "uU", 'U', "ok"},
		{"already ready", upReady, "", 'U', "ok"},
		{"already down", downDone, "", 'd', "ok"},
		{"finishing is down", finishing, "", 'd', "ok"},
		{"finishing is not D", finishing, "", 'D', "timeout"},
		{"down by event", upNotReady, "d", 'd', "ok"},
		{"D by event", upNotReady, "dD", 'D', "ok"},
		{"d is not D", upNotReady, "d", 'D', "timeout"},
		{"up then down: ok at u", downDone, "ud", 'u', "ok"},
		{"permanent failure", downDone, "O", 'u', "failed"},
		{"permanent failure ignored for down", upNotReady, "O", 'd', "timeout"},
		{"supervisor died", downDone, "x", 'u', "died"},
		{"supervisor died after down", upNotReady, "dDx", 'd', "ok"},
		{"unknown bytes ignored", downDone, "zs?u", 'u', "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svtest.New(t, tc.initial)
			w, err := svclient.Listen([]string{s.Dir})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s.Notify(tc.events)
			goal, _, _ := svclient.GoalFor(tc.letter)
			d := long
			if tc.want == "timeout" {
				d = short
			}
			r, err := w.Wait(goal, false, time.Now().Add(d))
			got := "ok"
			switch {
			case errors.Is(err, svclient.ErrTimeout):
				got = "timeout"
			case err != nil:
				t.Fatal(err)
			case len(r.Died) > 0:
				got = "died"
			case len(r.Failed) > 0:
				got = "failed"
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWaitMany(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial []servicedir.Status
		events  []string
		letter  byte
		any     bool
		want    string
	}{
		{"all up", []servicedir.Status{downDone, downDone}, []string{"u", "u"}, 'u', false, "ok"},
		{"all: one missing", []servicedir.Status{downDone, downDone}, []string{"u", ""}, 'u', false, "timeout"},
		{"any: one is enough", []servicedir.Status{downDone, downDone}, []string{"", "u"}, 'u', true, "ok"},
		{"any: already", []servicedir.Status{downDone, upNotReady}, []string{"", ""}, 'u', true, "ok"},
		{"any: none", []servicedir.Status{downDone, downDone}, []string{"d", "s"}, 'u', true, "timeout"},
		{"all down", []servicedir.Status{upNotReady, downDone}, []string{"d", ""}, 'd', false, "ok"},
		{"two failures", []servicedir.Status{downDone, downDone, downDone}, []string{"O", "dO", "u"}, 'u', false, "failed=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dirs []string
			var svs []*svtest.Service
			for _, st := range tc.initial {
				s := svtest.New(t, st)
				svs = append(svs, s)
				dirs = append(dirs, s.Dir)
			}
			w, err := svclient.Listen(dirs)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for i, ev := range tc.events {
				svs[i].Notify(ev)
			}
			goal, _, _ := svclient.GoalFor(tc.letter)
			d := long
			if tc.want == "timeout" {
				d = short
			}
			r, err := w.Wait(goal, tc.any, time.Now().Add(d))
			got := "ok"
			switch {
			case errors.Is(err, svclient.ErrTimeout):
				got = "timeout"
			case err != nil:
				t.Fatal(err)
			case len(r.Failed) > 0:
				got = "failed=" + string(rune('0'+len(r.Failed)))
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// Events that arrive together are not lost between two Waits: a restart
// reported as "dDu" in one write satisfies "down and finished", then "up".
func TestWaitKeepsQueuedEvents(t *testing.T) {
	s := svtest.New(t, upNotReady)
	w, err := svclient.Listen([]string{s.Dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s.Notify("dDu")
	for _, g := range []svclient.Goal{{Ready: true}, {Up: true}} {
		if _, err := w.Wait(g, false, time.Now().Add(long)); err != nil {
			t.Fatalf("wait %s: %v", g.Describe(), err)
		}
	}
}

// Subscription happens before the status is read: an event sent right
// after Listen returns is seen even though the status file says nothing.
func TestWaitNoRace(t *testing.T) {
	s := svtest.New(t, downDone)
	w, err := svclient.Listen([]string{s.Dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan error, 1)
	go func() {
		_, err := w.Wait(svclient.Goal{Up: true, Ready: true}, false, time.Now().Add(long))
		done <- err
	}()
	s.Notify("uU")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestListenErrors(t *testing.T) {
	// No status file: the error names it. event/ gets created, as s6 does.
	dir := t.TempDir()
	if _, err := svclient.Listen([]string{dir}); err == nil {
		t.Fatal("no error without a status file")
	}
	if fi, err := os.Stat(filepath.Join(dir, "event")); err != nil || fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("event/ not made as a fifodir: %v %v", fi, err)
	}
	// A supervisor that has taken its lock but not yet written the
	// status (s6-supervise starting): down until the events say more.
	starting := t.TempDir()
	if err := os.MkdirAll(filepath.Join(starting, "supervise"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(starting, "supervise", "lock"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	downUntilEvents(t, "a supervisor still starting", starting)
	// A service directory the scanner has not reached yet (a run file,
	// no supervise/: svscanctl -a returns before the scan): down until
	// the events of the supervisor to come, which uses the event/ made
	// here.
	unscanned := t.TempDir()
	if err := os.WriteFile(filepath.Join(unscanned, "run"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	downUntilEvents(t, "a service directory not scanned yet", unscanned)
	// Close removes the listener FIFOs.
	s := svtest.New(t, downDone)
	w, err := svclient.Listen([]string{s.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(s.Dir, "event"))
	if len(ents) != 0 {
		t.Errorf("event/ still holds %d entries after Close", len(ents))
	}
}

// downUntilEvents: a waiter on dir sees it down (a timeout waiting for
// up) until the supervisor's events say it is up.
func downUntilEvents(t *testing.T, what, dir string) {
	t.Helper()
	w, err := svclient.Listen([]string{dir})
	if err != nil {
		t.Fatalf("Listen on %s: %v", what, err)
	}
	defer w.Close()
	if _, err := w.Wait(svclient.Goal{Up: true}, false, time.Now().Add(short)); !errors.Is(err, svclient.ErrTimeout) {
		t.Errorf("%s: up before any event: %v, want a timeout", what, err)
	}
	if _, err := servicedir.NotifyFifodir(filepath.Join(dir, "event"), []byte("su")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Wait(svclient.Goal{Up: true}, false, time.Now().Add(long)); err != nil {
		t.Errorf("%s: up after the u event: %v", what, err)
	}
}

func TestPendingAndGoals(t *testing.T) {
	a, b := svtest.New(t, upNotReady), svtest.New(t, downDone)
	w, err := svclient.Listen([]string{a.Dir, b.Dir})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.Pending(svclient.Goal{Up: true}); !reflect.DeepEqual(got, []string{b.Dir}) {
		t.Errorf("Pending(up) = %v", got)
	}
	for _, c := range []byte("uUdDrR") {
		if _, _, ok := svclient.GoalFor(c); !ok {
			t.Errorf("GoalFor(%c) not ok", c)
		}
	}
	if _, _, ok := svclient.GoalFor('x'); ok {
		t.Error("GoalFor(x) ok")
	}
}
