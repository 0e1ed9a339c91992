package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/tai64n"
)

func TestFilter(t *testing.T) {
	// 2026-11-25 00:50:03 UTC with TAI-UTC = 37 s.
	const lbl = "@400000006b0630e008b74dea"
	for _, tc := range []struct {
		name, in, out string
	}{
		{"label", lbl + " hello\n", "2026-11-25 00:50:03.146230762 hello\n"},
		{"label alone with newline", lbl + "\n", "2026-11-25 00:50:03.146230762\n"},
		{"label alone, no newline: kept", lbl, lbl},
		{"bad label", "@4000zzzzzzzzzzzzzzzzzzzz x\n", "@4000zzzzzzzzzzzzzzzzzzzz x\n"},
		{"no label", "plain line\n", "plain line\n"},
		{"label mid-line", "x " + lbl + "\n", "x " + lbl + "\n"},
		{"partial last line", lbl + " end", "2026-11-25 00:50:03.146230762 end"},
		{"long line", lbl + " " + strings.Repeat("z", 100000) + "\n" + lbl + " b\n",
			"2026-11-25 00:50:03.146230762 " + strings.Repeat("z", 100000) + "\n2026-11-25 00:50:03.146230762 b\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run([]string{"svlog-cat", "-g"}, strings.NewReader(tc.in), &out, &errb); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.out {
				t.Errorf("got %q, want %q", out.String(), tc.out)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("one\n"), 0o644)
	os.WriteFile(b, []byte("two\n"), 0o644)
	var out, errb bytes.Buffer
	if err := run([]string{"svlog-cat", a, "-", b}, strings.NewReader("mid\n"), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\nmid\ntwo\n" {
		t.Errorf("got %q", out.String())
	}
	out.Reset()
	err := run([]string{"svlog-cat", filepath.Join(dir, "missing"), a}, nil, &out, &errb)
	if cli.Code(err) != 111 || out.String() != "one\n" || !strings.Contains(errb.String(), "missing") {
		t.Errorf("missing file: code %d, out %q, err %q", cli.Code(err), out.String(), errb.String())
	}
	if err := run([]string{"svlog-cat", "-x"}, nil, &out, &errb); cli.Code(err) != 100 {
		t.Errorf("bad option: %v", err)
	}
}

// TestCompat compares with Debian's s6-tai64nlocal.
func TestCompat(t *testing.T) {
	ref, err := exec.LookPath("s6-tai64nlocal")
	if err != nil {
		t.Fatalf("s6-tai64nlocal not found: %v (apt-get install s6, or run make test as root)", err)
	}
	var in strings.Builder
	for _, s := range []int64{0, 1e9, 1483228799, 1483228800, 1700000000, 1795567000} {
		st := tai64n.FromTime(timeUnix(s))
		in.WriteString(st.Label() + " line\n")
	}
	in.WriteString("no label\n@4000\n")
	// Labels at and past the ends of what is shown as a date: before
	// 1970 and absurd ones stay labels, years past 9999 get all digits.
	for _, sec := range []uint64{0, 5, tai64n.Base - 1, tai64n.Base, tai64n.Base + 9, tai64n.Base + 10, tai64n.Base + 11,
		tai64n.Base + 253402300810, tai64n.Base + 253402300847, tai64n.Base + 1<<40, tai64n.Base + 1<<55,
		tai64n.Base + 1<<61, 1<<63 - 1, 1 << 63, 1<<64 - 1} {
		fmt.Fprintf(&in, "@%016x%08x line\n", sec, 5)
	}
	for _, args := range [][]string{nil, {"-g"}} {
		cmd := exec.Command(ref, args...)
		cmd.Stdin = strings.NewReader(in.String())
		want, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := run(append([]string{"svlog-cat"}, args...), strings.NewReader(in.String()), &out, &out); err != nil {
			t.Fatal(err)
		}
		if out.String() != string(want) {
			t.Errorf("%v:\n got  %q\n want %q", args, out.String(), want)
		}
	}
}

func FuzzFilter(f *testing.F) {
	f.Add("@400000006b0630e008b74dea hello\nx\n")
	f.Add("@4000zz\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		var out bytes.Buffer
		if err := run([]string{"svlog-cat", "-g"}, strings.NewReader(s), &out, &out); err != nil {
			t.Fatal(err)
		}
		if strings.Count(out.String(), "\n") != strings.Count(s, "\n") {
			t.Fatalf("line count changed: %q -> %q", s, out.String())
		}
	})
}

func timeUnix(s int64) time.Time { return time.Unix(s, 123456789) }
