package svlog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		err   string // substring; "" = must succeed
		check func(t *testing.T, sc *Script)
		warn  bool
	}{
		{name: "stdout", args: []string{"1"}, check: func(t *testing.T, sc *Script) {
			if len(sc.Elems) != 1 || len(sc.Elems[0].Acts) != 1 || sc.Elems[0].Acts[0].Kind != ActStdout {
				t.Errorf("elems = %+v", sc.Elems)
			}
		}},
		{name: "defaults", args: []string{"./d"}, check: func(t *testing.T, sc *Script) {
			want := DirConfig{Path: "./d", Archives: 10, FileSize: 99999, Tolerance: 2000, Retry: 2 * time.Second}
			if sc.Dirs[0] != want {
				t.Errorf("dir = %+v, want %+v", sc.Dirs[0], want)
			}
		}},
		{name: "controls", args: []string{"n3", "s5000", "S100000", "l100", "r50", "!gzip", "/x", "n4", "?cat", "./y"}, check: func(t *testing.T, sc *Script) {
			want := []DirConfig{
				{Path: "/x", Archives: 3, FileSize: 5000, Tolerance: 100, TotalSize: 100000, Retry: 50 * time.Millisecond, Processor: "gzip"},
				{Path: "./y", Archives: 4, FileSize: 5000, Tolerance: 100, TotalSize: 100000, Retry: 50 * time.Millisecond, Processor: "cat", Shell: true},
			}
			for i := range want {
				if sc.Dirs[i] != want[i] {
					t.Errorf("dir %d = %+v, want %+v", i, sc.Dirs[i], want[i])
				}
			}
			if len(sc.Elems) != 1 || len(sc.Elems[0].Acts) != 2 {
				t.Errorf("elems = %+v", sc.Elems)
			}
		}},
		{name: "s clamped low", args: []string{"s10", "./d"}, check: func(t *testing.T, sc *Script) {
			if sc.Dirs[0].FileSize != MinFileSize {
				t.Errorf("s = %d", sc.Dirs[0].FileSize)
			}
		}},
		{name: "s clamped high", args: []string{"s999999999", "l1000", "./d"}, check: func(t *testing.T, sc *Script) {
			if sc.Dirs[0].FileSize != MaxFileSize {
				t.Errorf("s = %d", sc.Dirs[0].FileSize)
			}
		}},
		{name: "leading zeros", args: []string{"n05", "1"}},
		// s6-log 2.11 reads a directive's number whole: anything but
		// digits is an error, and so is a value too big for its field.
		{name: "trailing garbage n", args: []string{"n5x", "1"}, err: "unrecognized directive: n5x"},
		{name: "trailing garbage s", args: []string{"s5000x", "1"}, err: "unrecognized directive: s5000x"},
		{name: "trailing garbage S", args: []string{"S5x", "1"}, err: "unrecognized directive: S5x"},
		{name: "trailing garbage l", args: []string{"l5x", "1"}, err: "unrecognized directive: l5x"},
		{name: "trailing garbage r", args: []string{"r5x", "1"}, err: "unrecognized directive: r5x"},
		{name: "trailing garbage E", args: []string{"E5x", "1"}, err: "unrecognized directive: E5x"},
		{name: "trailing garbage ^", args: []string{"^5x", "1"}, err: "unrecognized directive: ^5x"},
		{name: "hex", args: []string{"n0x10", "1"}, err: "unrecognized directive: n0x10"},
		{name: "plus sign", args: []string{"n+5", "1"}, err: "unrecognized directive: n+5"},
		{name: "minus sign", args: []string{"n-1", "1"}, err: "unrecognized directive: n-1"},
		{name: "space", args: []string{"n 5", "1"}, err: "unrecognized directive: n 5"},
		{name: "n max", args: []string{"n4294967295", "1"}},
		{name: "n too big", args: []string{"n4294967296", "1"}, err: "unrecognized directive"},
		{name: "S max", args: []string{"S18446744073709551615", "1"}},
		{name: "S too big", args: []string{"S18446744073709551616", "1"}, err: "unrecognized directive"},
		{name: "E max", args: []string{"E4294967295", "^4294967295", "1"}, check: func(t *testing.T, sc *Script) {
			if sc.Elems[0].Acts[0].Kind != ActStdout {
				t.Errorf("acts = %+v", sc.Elems[0].Acts)
			}
		}},
		{name: "E too big", args: []string{"E4294967296", "1"}, err: "unrecognized directive"},
		{name: "r max", args: []string{"r2147483647", "./d"}, check: func(t *testing.T, sc *Script) {
			if sc.Dirs[0].Retry != 2147483647*time.Millisecond {
				t.Errorf("r = %v", sc.Dirs[0].Retry)
			}
		}},
		{name: "r too big", args: []string{"r2147483648", "1"}, err: "unrecognized directive: r2147483648"},
		{name: "dir twice", args: []string{"./d", "n3", "./d/"}, err: "names the log directory ./d again"},
		{name: "dir twice, other spelling", args: []string{"./a/../d", "1", "./d"}, err: "names the log directory"},
		{name: "l half of s", args: []string{"s4096", "l2048", "1"}},
		{name: "l before s", args: []string{"l3000", "s4096", "1"}},
		{name: "l vs default s", args: []string{"l50000", "1"}, err: "conflicts with previous s directive"},
		{name: "stamps not sticky", args: []string{"t", "T", "pfoo", "1", "2"}, check: func(t *testing.T, sc *Script) {
			a := sc.Elems[0].Acts
			if !a[0].TAI || !a[0].ISO || a[0].Prefix != "foo" || !a[0].HasPfx {
				t.Errorf("act0 = %+v", a[0])
			}
			if a[1].TAI || a[1].ISO || a[1].Prefix != "foo" {
				t.Errorf("act1 = %+v", a[1])
			}
			if !sc.NeedTAI || !sc.NeedISO {
				t.Error("stamp needs not recorded")
			}
		}},
		{name: "prefix removed", args: []string{"pfoo", "p", "1"}, check: func(t *testing.T, sc *Script) {
			if a := sc.Elems[0].Acts[0]; a.HasPfx {
				t.Errorf("prefix kept: %+v", a)
			}
		}},
		{name: "elements", args: []string{"-.*", "+^a", "1", "+^b", "2", "f", "=st"}, check: func(t *testing.T, sc *Script) {
			if len(sc.Elems) != 3 {
				t.Fatalf("elems = %d", len(sc.Elems))
			}
			if k := sc.Elems[2].Sels[0].Kind; k != SelDefault {
				t.Errorf("third selection kind = %d", k)
			}
			if sc.Elems[0].Sels[0].Kind != SelMinus || sc.Elems[0].Sels[1].Kind != SelPlus {
				t.Errorf("sels = %+v", sc.Elems[0].Sels)
			}
		}},
		{name: "sizes", args: []string{"E10", "^20", "2", "=st"}, check: func(t *testing.T, sc *Script) {
			a := sc.Elems[0].Acts
			if a[0].Size != 10 || a[1].Size != 20 || a[1].File != "st" {
				t.Errorf("acts = %+v", a)
			}
		}},
		{name: "trailing selection warns", args: []string{"1", "+x"}, warn: true},
		{name: "trailing control warns", args: []string{"1", "t"}, warn: true},
		{name: "no action", args: []string{"n5", "t"}, err: "no action directive"},
		{name: "empty", args: nil, err: "no action directive"},
		{name: "unknown", args: []string{"x", "1"}, err: "unrecognized directive: x"},
		{name: "empty directive", args: []string{"", "1"}, err: "unrecognized directive"},
		{name: "bad number", args: []string{"nfoo", "1"}, err: "unrecognized directive: nfoo"},
		{name: "number overflow", args: []string{"n99999999999", "1"}, err: "unrecognized directive"},
		{name: "f with junk", args: []string{"fx", "1"}, err: "syntax error at directive: fx"},
		{name: "t with junk", args: []string{"tt", "1"}, err: "syntax error"},
		{name: "1 with junk", args: []string{"12"}, err: "syntax error"},
		{name: "empty status", args: []string{"="}, err: "syntax error"},
		{name: "bad regexp", args: []string{"+(", "1"}, err: "invalid regular expression"},
		{name: "perl class rejected", args: []string{`+\d`, "1"}, err: "invalid regular expression"},
		{name: "posix class", args: []string{"+[[:digit:]]", "1"}},
		{name: "tolerance too big", args: []string{"s4096", "l3000", "1"}, err: "conflicts with previous s directive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := Parse(tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				var se *SyntaxError
				if !errors.As(err, &se) {
					t.Errorf("error %v is not a SyntaxError", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.args, err)
			}
			if got := len(sc.Warnings) > 0; got != tc.warn {
				t.Errorf("warnings = %q, want some: %v", sc.Warnings, tc.warn)
			}
			if tc.check != nil {
				tc.check(t, sc)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"1", "t s1000000 n10 ./dir", "-.* +^a 1 +^b 2 f =st", "n3 s5000 S100000 l100 r50 !gzip /x",
		"E10 ^20 2 =st", "pfoo p T t 1", "+( 1", "s4096 l3000 1", "n99999999999 1", "?cat ./y", "f",
		"n5x 1", "r2147483648 1", "E4294967295 ^0 =st", "s4096 l2048 ./a l1 ./b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args := strings.Fields(s)
		sc, err := Parse(args)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("non-syntax error %v", err)
			}
			return
		}
		if len(sc.Elems) == 0 {
			t.Fatal("no elements in a valid script")
		}
		// Every directive that takes a number had only digits in it.
		nacts, ndirs := 0, 0
		for _, a := range args {
			switch a[0] {
			case 'n', 's', 'S', 'l', 'r', 'E', '^':
				if strings.Trim(a[1:], "0123456789") != "" || len(a) == 1 {
					t.Fatalf("%q accepted in %q", a, args)
				}
			case '1', '2', '=':
				nacts++
			case '.', '/':
				nacts++
				ndirs++
			}
		}
		got := 0
		for _, e := range sc.Elems {
			got += len(e.Acts)
			for _, a := range e.Acts {
				if a.Kind == ActDir && (a.Dir < 0 || a.Dir >= len(sc.Dirs) || sc.Dirs[a.Dir].Path == "") {
					t.Fatalf("action %+v names no directory of %+v", a, sc.Dirs)
				}
			}
		}
		if got != nacts || len(sc.Dirs) != ndirs {
			t.Fatalf("%q: %d actions and %d dirs compiled, want %d and %d", args, got, len(sc.Dirs), nacts, ndirs)
		}
		for _, d := range sc.Dirs {
			if d.FileSize < MinFileSize || d.FileSize > MaxFileSize {
				t.Fatalf("bad dir config %+v", d)
			}
		}
	})
}
