package getopt

import (
	"strings"
	"testing"
)

func TestGetopt(t *testing.T) {
	const opts = "abqhkti12pcyroduDUxOQT:w:"
	for _, tc := range []struct {
		args string // space-separated; "_" stands for an empty argument
		want string // "opt[=arg]" list, then "|" and the rest
		err  bool
	}{
		{"dir", "|dir", false},
		{"-u dir", "u|dir", false},
		{"-wu -u dir", "w=u u|dir", false},
		{"-wU -T 500 -ud dir extra", "w=U T=500 u d|dir extra", false},
		{"-T500 dir", "T=500|dir", false},
		{"-uwd dir", "u w=d|dir", false},
		{"-udT 10 dir", "u d T=10|dir", false},
		{"-- -u", "|-u", false},
		{"-u -- -d", "u|-d", false},
		{"- -u", "|- -u", false},
		{"-u dir -d", "u|dir -d", false},
		{"_ -u", "|_ -u", false},
		{"", "|", false},
		{"-Z dir", "", true},
		{"-u -:", "", true},
		{"-T", "", true},
		{"-uT", "", true},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var args []string
			if tc.args != "" {
				for _, a := range strings.Split(tc.args, " ") {
					if a == "_" {
						a = ""
					}
					args = append(args, a)
				}
			}
			g := New(args, opts)
			var got []string
			for {
				c, ok, err := g.Next()
				if err != nil {
					if !tc.err {
						t.Fatalf("unexpected error %v", err)
					}
					return
				}
				if !ok {
					break
				}
				s := string(c)
				if g.Arg != "" {
					s += "=" + g.Arg
				}
				got = append(got, s)
			}
			if tc.err {
				t.Fatalf("no error; options %v", got)
			}
			rest := g.Rest()
			for i := range rest {
				if rest[i] == "" {
					rest[i] = "_"
				}
			}
			if s := strings.Join(got, " ") + "|" + strings.Join(rest, " "); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestParseMillis(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "500": 500, "007": 7, "4294967295": 4294967295,
		"": -1, "-1": -1, "+5": -1, "5s": -1, " 5": -1, "4294967296": -1, "99999999999999999999999": -1} {
		got, err := ParseMillis(in)
		if want < 0 {
			if err == nil {
				t.Errorf("ParseMillis(%q) = %d, want an error", in, got)
			}
			continue
		}
		if err != nil || int64(got) != want {
			t.Errorf("ParseMillis(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// FuzzGetopt checks the scanner never panics and always makes progress.
func FuzzGetopt(f *testing.F) {
	f.Add("-wu\x00-T\x00500\x00-ud\x00dir", "abT:w:")
	f.Add("--\x00-x", "x")
	f.Add("-", "")
	f.Fuzz(func(t *testing.T, joined, optstring string) {
		args := strings.Split(joined, "\x00")
		g := New(args, optstring)
		for i := 0; ; i++ {
			if i > len(joined)+2 {
				t.Fatalf("no end after %d options", i)
			}
			_, ok, err := g.Next()
			if err != nil || !ok {
				break
			}
		}
		if r := g.Rest(); len(r) > len(args) {
			t.Fatalf("Rest longer than args")
		}
	})
}

// TestSvlogOptions: svlog's options (moved here with svlog's own parser,
// which this one replaced): clusters with an argument glued on, a
// separate argument, and "--" before an argument starting with '-'.
func TestSvlogOptions(t *testing.T) {
	g := New([]string{"-bpl100", "-d", "3", "-qv", "--", "-x", "1"}, "qvbpl:d:t:")
	var got []string
	for {
		c, ok, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(c)+g.Arg)
	}
	if rest := g.Rest(); strings.Join(got, ",") != "b,p,l100,d3,q,v" || strings.Join(rest, " ") != "-x 1" {
		t.Errorf("opts %q rest %q", got, rest)
	}
}
