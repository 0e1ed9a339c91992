package svscan

import (
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/supervise"
)

// Letters fold into flags as s6-svscan keeps them; String gives back
// letters that fold into the same flags (what a handover carries).
func TestWantLetters(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want want
		back string
	}{
		{"", want{}, ""},
		{"aaaa", want{scan: true}, "a"},
		{"h", want{scan: true, prune: 'n'}, "an"},
		{"nN", want{prune: 'N'}, "N"},
		{"Nn", want{prune: 'N'}, "N"},
		{"tiq", want{kill: 'q'}, "q"},
		{"qt", want{kill: 'q'}, "q"},
		{"zb", want{reap: true, abort: true}, "z"},
		{"RU", want{root: true, exec: true}, ""},
		{"X\x00\n", want{unknown: 2}, ""},
	} {
		var w want
		w.letters([]byte(tc.in))
		if w != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.in, w, tc.want)
		}
		if got := w.String(); got != tc.back {
			t.Errorf("%q: String %q, want %q", tc.in, got, tc.back)
		}
	}
	// merge: the stronger prune and kill win, in either order.
	for _, tc := range []struct{ a, b, want string }{
		{"n", "N", "N"}, {"N", "n", "N"}, {"t", "q", "q"}, {"q", "t", "q"}, {"a", "z", "az"}, {"", "h", "an"},
	} {
		var a, b want
		a.letters([]byte(tc.a))
		b.letters([]byte(tc.b))
		a.merge(b)
		if got := a.String(); got != tc.want {
			t.Errorf("%q merged with %q: %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

// A service's handover survives its encoding; a truncated one is an
// error, never a panic.
func TestHandoverEncoding(t *testing.T) {
	h := &supervise.Handover{Dir: "/run/service/a", Name: "a", Dfd: 7, Lock: 8, Control: 9, Notify: -1,
		State: 1, Pid: 1234, Started: true, RsOnce: true, Gen: 3, Spawned: 5 * time.Second, Lived: time.Second,
		Deaths: []time.Duration{time.Second, 2 * time.Second}, Timer: -1, Killer: 300 * time.Millisecond,
		ReadyRead: true, Cgroup: "/sys/fs/cgroup/svinit/a", OOMSeen: 2, LastErr: "x"}
	h.Status[0], h.Restart[0], h.RestartFile[3] = 1, 2, 3
	var e enc
	e.service(h)
	d := dec{b: e.b}
	got := d.service()
	if d.err != nil || len(d.b) != 0 {
		t.Fatalf("decode: %v, %d bytes left", d.err, len(d.b))
	}
	got.At, h.At = time.Time{}, time.Time{}
	if gs, hs := *got, *h; gs.Dir != hs.Dir || gs.Name != hs.Name || gs.Dfd != hs.Dfd || gs.Lock != hs.Lock ||
		gs.Control != hs.Control || gs.Notify != hs.Notify || gs.State != hs.State || gs.Pid != hs.Pid ||
		gs.Started != hs.Started || gs.QuietEnd != hs.QuietEnd || gs.RsOnce != hs.RsOnce || gs.Gen != hs.Gen ||
		gs.Spawned != hs.Spawned || gs.Lived != hs.Lived || len(gs.Deaths) != 2 || gs.Deaths[1] != hs.Deaths[1] ||
		gs.Status != hs.Status || gs.Restart != hs.Restart || gs.RestartFile != hs.RestartFile ||
		gs.Timer != hs.Timer || gs.Killer != hs.Killer || gs.ReadyRead != hs.ReadyRead || gs.Cgroup != hs.Cgroup ||
		gs.OOMSeen != hs.OOMSeen || gs.LastErr != hs.LastErr {
		t.Errorf("decoded %+v\nwant    %+v", gs, hs)
	}
	for n := 0; n < len(e.b); n++ {
		d := dec{b: e.b[:n]}
		d.service()
		if d.err == nil {
			t.Errorf("%d of %d bytes decoded without an error", n, len(e.b))
		}
	}
}
