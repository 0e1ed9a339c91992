package svclient

import (
	"encoding/binary"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
)

// stamp builds a TAI64N stamp from raw TAI64 seconds (offset from 2^62)
// and nanoseconds.
func stamp(sec uint64, ns uint32) tai64n.Stamp {
	var s tai64n.Stamp
	binary.BigEndian.PutUint64(s[:8], 1<<62+sec)
	binary.BigEndian.PutUint32(s[8:], ns)
	return s
}

const base = 1795567603

var now = stamp(base+76, 500)

// The expected lines below were taken from Debian's s6-svstat 2.11.3
// run on the same status files.
func TestHuman(t *testing.T) {
	for _, tc := range []struct {
		name       string
		st         servicedir.Status
		normallyUp bool
		want, num  string
	}{
		{"up", servicedir.Status{Stamp: stamp(base, 5), Pid: 12328, WantUp: true}, true,
			"up (pid 12328) 76 seconds", ""},
		{"up normally down", servicedir.Status{Stamp: stamp(base, 5), Pid: 7, WantUp: true}, false,
			"up (pid 7) 76 seconds, normally down", ""},
		{"up ready", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base+70, 0), Pid: 7, WantUp: true, Ready: true}, true,
			"up (pid 7) 76 seconds, ready 6 seconds", ""},
		{"paused want down ready", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base, 7), Pid: 77, Paused: true, Ready: true}, true,
			"up (pid 77) 76 seconds, paused, want down, ready 76 seconds", ""},
		{"killed", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base, 7), Wstat: uint16(syscall.SIGTERM), Ready: true}, true,
			"down (signal SIGTERM) 76 seconds, normally up, ready 76 seconds",
			"down (signal 15) 76 seconds, normally up, ready 76 seconds"},
		{"core dump bit", servicedir.Status{Stamp: stamp(base, 5), Wstat: 139}, true,
			"down (signal SIGSEGV) 76 seconds, normally up", "down (signal 11) 76 seconds, normally up"},
		{"realtime signal", servicedir.Status{Stamp: stamp(base, 5), Wstat: 40}, true,
			"down (signal SIG???) 76 seconds, normally up", "down (signal 40) 76 seconds, normally up"},
		{"exit 3 want up", servicedir.Status{Stamp: stamp(base, 5), Wstat: 3 << 8, WantUp: true}, true,
			"down (exitcode 3) 76 seconds, normally up, want up", ""},
		{"stopped wstat", servicedir.Status{Stamp: stamp(base, 5), Wstat: 0x17f}, true,
			"down (exitcode 1) 76 seconds, normally up", ""},
		{"never started, down file", servicedir.Status{Stamp: stamp(base+76, 0), ReadyStamp: stamp(base+76, 0), Ready: true}, false,
			"down (exitcode 0) 0 seconds, ready 0 seconds", ""},
		{"finishing", servicedir.Status{Stamp: stamp(base, 5), Pid: 77, Finishing: true, Wstat: 1 << 8, WantUp: true}, true,
			"down (exitcode 1) 76 seconds, normally up, want up", ""},
		{"pid truncated to 32 bits", servicedir.Status{Stamp: stamp(base, 5), Pid: 1<<32 + 5, WantUp: true}, true,
			"up (pid 5) 76 seconds", ""},
		{"pid low bits zero", servicedir.Status{Stamp: stamp(base, 5), Pid: 1 << 32, WantUp: true}, true,
			"down (exitcode 0) 76 seconds, normally up, want up", ""},
		{"negative pid", servicedir.Status{Stamp: stamp(base, 5), Pid: 0xffffffff, WantUp: true}, true,
			"up (pid -1) 76 seconds", ""},
		{"stamp in the future", servicedir.Status{Stamp: stamp(base+1000, 0), Pid: 9, WantUp: true}, true,
			"up (pid 9) 0 seconds", ""},
		{"ready stamp in the future", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base+1000, 0), Pid: 9, WantUp: true, Ready: true}, true,
			"up (pid 9) 76 seconds, ready 0 seconds", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := NewView(tc.st, tc.normallyUp, now)
			if got := Human(v, false); got != tc.want {
				t.Errorf("Human = %q, want %q", got, tc.want)
			}
			num := tc.num
			if num == "" {
				num = tc.want
			}
			if got := Human(v, true); got != num {
				t.Errorf("Human -n = %q, want %q", got, num)
			}
		})
	}
}

const allFields = "up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor,pgid"

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		name       string
		st         servicedir.Status
		normallyUp bool
		pgid       int64
		want       string
	}{
		{"up", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base, 7), Pid: 12328, WantUp: true}, true, 0,
			"true true true false false 12328 -1 NA -1 @400000006b062ff300000005 @400000006b062ff300000007 76 76 12328"},
		{"up other pgid", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base, 7), Pid: 12328, WantUp: true, Ready: true}, false, 99,
			"true true false true false 12328 -1 NA -1 @400000006b062ff300000005 @400000006b062ff300000007 76 76 99"},
		{"killed", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base, 7), Wstat: 15, Ready: true}, true, 0,
			"false false true false false -1 -1 SIGTERM 15 @400000006b062ff300000005 @400000006b062ff300000007 76 76 -1"},
		{"exited 127, zero ready stamp", servicedir.Status{Stamp: stamp(base, 5), Wstat: 127 << 8}, false, 0,
			"false false false false false -1 127 NA -1 @400000006b062ff300000005 @000000000000000000000000 76 4611686020222955583 -1"},
		{"stopped wstat", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base+6, 0), Wstat: 0x7f}, true, 0,
			"false false true false false -1 -1 NA -1 @400000006b062ff300000005 @400000006b062ff900000000 76 70 -1"},
		{"finishing ready paused", servicedir.Status{Stamp: stamp(base, 5), ReadyStamp: stamp(base, 5), Pid: 77, Finishing: true, Ready: true, Paused: true}, true, 0,
			"false false true true true -1 0 NA -1 @400000006b062ff300000005 @400000006b062ff300000005 76 76 -1"},
		{"future stamp shows now", servicedir.Status{Stamp: stamp(base+1000, 0), ReadyStamp: stamp(base+1000, 0), Pid: 9}, true, 0,
			"true false true false false 9 -1 NA -1 @400000006b06303f000001f4 @400000006b0633db00000000 0 0 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := ParseFields(allFields)
			if err != nil {
				t.Fatal(err)
			}
			v := NewView(tc.st, tc.normallyUp, now)
			v.Pgid = tc.pgid
			if got := Format(fs, v); got != tc.want {
				t.Errorf("Format =\n%q, want\n%q", got, tc.want)
			}
		})
	}
}

func TestParseFields(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want string // names joined by ","; "ERR" for an error
	}{
		{"", ""},
		{"up", "up"},
		{"up,", "up"},
		{"up,pid", "up,pid"},
		// s6-svstat takes any prefix; the first field in its order wins.
		{"u,w,n,r,p,e,s,si,upd,ready", "up,wantedup,normallyup,ready,paused,exitcode,signal,signal,updownsince,ready"},
		{"pg", "pgid"},
		{"pi", "pid"},
		{"readyf", "readyfor"},
		// svinit's restart fields come last: s6's prefixes keep their meaning.
		{"r,re,res,n,nex,perm", "ready,ready,restarts,normallyup,nextstartin,permfailed"},
		{"restartd", "restartdelay"},
		{"upx", "ERR"},
		{"bogus", "ERR"},
		{",up", "ERR"},
		{"up,,pid", "ERR"},
		{",", "ERR"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			fs, err := ParseFields(tc.spec)
			if tc.want == "ERR" {
				if err == nil {
					t.Fatalf("no error, got %d fields", len(fs))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range fs {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, ","); got != tc.want {
				t.Errorf("fields %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	for _, tc := range []struct {
		now, then tai64n.Stamp
		want      uint64
	}{
		{stamp(100, 0), stamp(100, 0), 0},
		{stamp(100, 5), stamp(99, 6), 0},
		{stamp(100, 6), stamp(99, 6), 1},
		{stamp(100, 0), stamp(200, 0), 0},
		{stamp(100, 0), tai64n.Stamp{}, 1<<62 + 100},
	} {
		if got := Seconds(tc.now, tc.then); got != tc.want {
			t.Errorf("Seconds(%v, %v) = %d, want %d", tc.now, tc.then, got, tc.want)
		}
	}
}

func TestSignalName(t *testing.T) {
	for n, want := range map[int]string{0: "SIG???", 1: "SIGHUP", 6: "SIGABRT", 16: "SIGSTKFLT", 29: "SIGPOLL", 31: "SIGSYS", 32: "SIG???", 127: "SIG???"} {
		if got := SignalName(n); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseStatPgid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1234 (sleep) S 1 1234 1234 0 -1 4194560", 1234, true},
		{"1234 (a) b) c) S 1 77 1234 0", 77, true},
		{"1234 (x", 0, false},
		{"1234 (x) S 1", 0, false},
		{"1234 (x) S 1 abc", 0, false},
		{"", 0, false},
	} {
		got, ok := parseStatPgid([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseStatPgid(%q) = %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProcPgidSelf(t *testing.T) {
	pg, ok := ProcPgid(int32(syscall.Getpid()))
	if !ok {
		t.Fatal("ProcPgid(self) found nothing: is /proc mounted?")
	}
	if want := int64(syscall.Getpgrp()); pg != want {
		t.Errorf("ProcPgid(self) = %d, want %d", pg, want)
	}
	if _, ok := ProcPgid(0); ok {
		t.Error("ProcPgid(0) ok")
	}
}

// FuzzFormat feeds arbitrary status files through both output forms:
// they must never panic and must keep their shape.
func FuzzFormat(f *testing.F) {
	up := servicedir.Status{Stamp: stamp(base, 5), Pid: 12, WantUp: true}
	b := up.Marshal()
	f.Add(b[:], "up,pid,pgid", true, false)
	f.Add(make([]byte, 35), allFields, false, true)
	f.Add([]byte("short"), "u,w", true, true)
	f.Fuzz(func(t *testing.T, raw []byte, spec string, normallyUp, numeric bool) {
		if len(raw) < servicedir.StatusSize {
			return
		}
		st, err := servicedir.UnmarshalStatus(raw[:servicedir.StatusSize])
		if err != nil {
			return
		}
		v := NewView(st, normallyUp, now)
		h := Human(v, numeric)
		if !strings.HasPrefix(h, "up (pid ") && !strings.HasPrefix(h, "down (") || strings.ContainsAny(h, "\n\x00") {
			t.Fatalf("odd human line %q", h)
		}
		fs, err := ParseFields(spec)
		if err != nil {
			return
		}
		out := Format(fs, v)
		if n := len(strings.Fields(out)); n != len(fs) {
			t.Fatalf("Format(%q) = %q: %d values for %d fields", spec, out, n, len(fs))
		}
	})
}

// TestRestartFormat: svinit's restart state in the summary line (only
// when it has something to say) and in its fields.
func TestRestartFormat(t *testing.T) {
	now := tai64n.FromTime(time.Unix(1790000000, 0))
	next := tai64n.FromTime(time.Unix(1790000003, 500000000))
	down := servicedir.Status{Stamp: now, ReadyStamp: now, Wstat: 1 << 8, WantUp: true, Ready: true}
	up := servicedir.Status{Stamp: now, ReadyStamp: now, Pid: 42, WantUp: true}
	const fs = "restarts,restartdelay,nextstartin,permfailed"
	for _, tc := range []struct {
		name          string
		st            servicedir.Status
		r             *servicedir.Restart
		human, fields string
	}{
		{"no file", down, nil, "down (exitcode 1) 0 seconds, normally up, want up, ready 0 seconds", "-1 -1 -1 false"},
		{"healthy restarts say nothing", up, &servicedir.Restart{Restarts: 3}, "up (pid 42) 0 seconds", "3 0 -1 false"},
		{"crash loop, start due", down, &servicedir.Restart{Restarts: 5, Streak: 3, Delay: 4 * time.Second, Next: next},
			"down (exitcode 1) 0 seconds, normally up, want up, ready 0 seconds, restarts 5 (3 in a row), delay 4000 ms, next start in 3500 ms",
			"5 4000 3500 false"},
		{"crash loop, up again", up, &servicedir.Restart{Restarts: 5, Streak: 3, Delay: 4 * time.Second},
			"up (pid 42) 0 seconds, restarts 5 (3 in a row), delay 4000 ms", "5 4000 -1 false"},
		{"permanent failure", servicedir.Status{Stamp: now, ReadyStamp: now, Wstat: 1 << 8, Ready: true},
			&servicedir.Restart{Restarts: 2, Streak: 2, Delay: time.Second, PermFail: true},
			"down (exitcode 1) 0 seconds, normally up, ready 0 seconds, restarts 2 (2 in a row), delay 1000 ms, permanent failure",
			"2 1000 -1 true"},
	} {
		v := NewView(tc.st, true, now)
		v.Restart = tc.r
		if got := Human(v, false); got != tc.human {
			t.Errorf("%s: human\n %q, want\n %q", tc.name, got, tc.human)
		}
		f, err := ParseFields(fs)
		if err != nil {
			t.Fatal(err)
		}
		if got := Format(f, v); got != tc.fields {
			t.Errorf("%s: fields %q, want %q", tc.name, got, tc.fields)
		}
	}
}

// TestCgroupFormat: svinit's cgroup figures in their fields, and OOM
// kills in the summary line only when there were some.
func TestCgroupFormat(t *testing.T) {
	now := tai64n.FromTime(time.Unix(1790000000, 0))
	up := servicedir.Status{Stamp: now, ReadyStamp: now, Pid: 42, WantUp: true}
	const fs = "cgroup,processes,memory,memorypeak,oomkills"
	full := cgroup.Stats{Processes: 3, Memory: 1 << 20, MemoryPeak: 64 << 20, OOMKill: 2, HasMemory: true, HasPeak: true, HasOOM: true}
	for _, tc := range []struct {
		name          string
		cg            *Cgroup
		human, fields string
	}{
		{"no cgroup", nil, "up (pid 42) 0 seconds", "NA -1 -1 -1 -1"},
		{"no controllers", &Cgroup{Path: "/sys/fs/cgroup/unified/svinit/a", Stats: cgroup.Stats{Processes: 1}},
			"up (pid 42) 0 seconds", "/sys/fs/cgroup/unified/svinit/a 1 -1 -1 -1"},
		{"no OOM kill says nothing", &Cgroup{Path: "/c", Stats: cgroup.Stats{Processes: 1, Memory: 5, HasMemory: true, HasOOM: true}},
			"up (pid 42) 0 seconds", "/c 1 5 -1 0"},
		{"OOM kills", &Cgroup{Path: "/c", Stats: full},
			"up (pid 42) 0 seconds, OOM kills 2", "/c 3 1048576 67108864 2"},
	} {
		v := NewView(up, true, now)
		v.Cgroup = tc.cg
		if got := Human(v, false); got != tc.human {
			t.Errorf("%s: human %q, want %q", tc.name, got, tc.human)
		}
		f, err := ParseFields(fs)
		if err != nil {
			t.Fatal(err)
		}
		if got := Format(f, v); got != tc.fields {
			t.Errorf("%s: fields %q, want %q", tc.name, got, tc.fields)
		}
	}
	// "memory" is not taken for memorypeak, nor "mem" for anything else.
	for spec, want := range map[string]string{"memory": "memory", "memorypeak": "memorypeak", "mem": "memory", "oom": "oomkills", "proc": "processes", "c": "cgroup"} {
		f, err := ParseFields(spec)
		if err != nil || len(f) != 1 || f[0].Name != want {
			t.Errorf("field %q: %v, %v; want %s", spec, f, err, want)
		}
	}
}
