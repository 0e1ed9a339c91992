package tai64n

import (
	"errors"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		t     time.Time
		label string
	}{
		{"epoch", time.Unix(0, 0), "@400000000000000a00000000"},
		{"one second one ns", time.Unix(1, 1), "@400000000000000b00000001"},
		{"2026", time.Unix(1790000000, 999999999), "@400000006AB13BA53B9AC9FF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := FromTime(tc.t)
			want := tc.label
			got := s.Label()
			back, err := ParseLabel(want)
			if err != nil {
				t.Fatalf("ParseLabel(%q): %v", want, err)
			}
			if back != s {
				t.Errorf("ParseLabel(%q) = %x, want %x (label %s)", want, back, s, got)
			}
			if !s.Time().Equal(tc.t) {
				t.Errorf("Time() = %v, want %v", s.Time(), tc.t)
			}
			if string(s.AppendLabel(nil)) != got {
				t.Errorf("AppendLabel = %q, Label = %q", s.AppendLabel(nil), got)
			}
			p, err := Parse(s[:])
			if err != nil || p != s {
				t.Errorf("Parse = %x, %v", p, err)
			}
		})
	}
}

func TestLeapSeconds(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		off  int64
	}{{0, 10}, {78796799, 10}, {78796800, 11}, {1483228799, 36}, {1483228800, 37}, {1795567768, 37}} {
		if got := TAIMinusUTC(tc.unix); got != tc.off {
			t.Errorf("TAIMinusUTC(%d) = %d, want %d", tc.unix, got, tc.off)
		}
		tm := time.Unix(tc.unix, 0)
		if back := FromTime(tm).Time(); !back.Equal(tm) {
			t.Errorf("round trip of %d: %d", tc.unix, back.Unix())
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, l := range []string{"", "@", "4000000000000000000000000", "@40000000000000000000000g",
		"@4000000000000000ffffffff", "@4000000000000000000000000"} {
		if _, err := ParseLabel(l); !errors.Is(err, ErrFormat) {
			t.Errorf("ParseLabel(%q) err = %v, want ErrFormat", l, err)
		}
	}
	if _, err := Parse(make([]byte, 11)); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse(11 bytes) err = %v", err)
	}
}

func TestParseLabelPrefix(t *testing.T) {
	s, rest, err := ParseLabelPrefix([]byte("@400000000000000a00000000 hello"))
	if err != nil || string(rest) != "hello" || s.Time().Unix() != 0 {
		t.Fatalf("got %v %q %v", s, rest, err)
	}
	if _, _, err := ParseLabelPrefix([]byte("short")); err == nil {
		t.Fatal("short line: no error")
	}
}

func FuzzParseLabel(f *testing.F) {
	f.Add("@400000000000000a00000000")
	f.Add("@4000000000000000ffffffff")
	f.Fuzz(func(t *testing.T, l string) {
		s, err := ParseLabel(l)
		if err != nil {
			return
		}
		back, err := ParseLabel(s.Label())
		if err != nil || back != s {
			t.Fatalf("round trip of %q: %x %v", l, back, err)
		}
	})
}
