package bootmenu

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func entries(n int) []Entry {
	var out []Entry
	for i := 0; i < n; i++ {
		out = append(out, Entry{Title: "os" + string(rune('A'+i)), Device: "vda1", Format: FormatGRUB})
	}
	return out
}

// keys returns a closed channel holding s.
func keys(s string) <-chan byte {
	c := make(chan byte, len(s))
	for i := 0; i < len(s); i++ {
		c <- s[i]
	}
	close(c)
	return c
}

// openKeys returns a channel holding s that stays open (a keyboard
// nobody types on any more).
func openKeys(s string) <-chan byte {
	c := make(chan byte, len(s))
	for i := 0; i < len(s); i++ {
		c <- s[i]
	}
	return c
}

// Time either passes at once (the countdown runs out) or never (the
// keys decide): Choose never sees both ready, so the tests are exact.
func instant(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func never(time.Duration) <-chan time.Time { return nil }

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, def  int
		timeout time.Duration
		keys    <-chan byte
		after   func(time.Duration) <-chan time.Time
		shell   bool
		want    int
		wantHow string
		wantErr error
		wantOut []string
		wantNot []string
	}{
		{name: "countdown runs out", n: 3, def: 1, timeout: 3 * time.Second, keys: openKeys(""), after: instant,
			want: 1, wantHow: ByTimeout, wantOut: []string{" * 2) osB", "booting 2) osB in 3 s", ": 2 1\n", "svboot: booting 2) osB\n"}},
		{name: "no keyboard", n: 2, timeout: 2500 * time.Millisecond, after: instant,
			want: 0, wantHow: ByTimeout, wantOut: []string{"in 3 s", "svboot: booting 1) osA"}},
		{name: "keyboard gone", n: 2, timeout: time.Second, keys: keys(""), after: instant,
			want: 0, wantHow: ByTimeout},
		{name: "at once", n: 2, def: 1, timeout: 0, keys: openKeys("1"), after: never,
			want: 1, wantHow: AtOnce, wantNot: []string{"countdown"}},
		{name: "a number picks", n: 3, timeout: 3 * time.Second, keys: openKeys("3"), after: never,
			want: 2, wantHow: ByKey, wantOut: []string{"svboot: booting 3) osC"}},
		{name: "enter picks the default", n: 3, def: 2, timeout: 3 * time.Second, keys: openKeys("\r"), after: never,
			want: 2, wantHow: ByDefault},
		{name: "a key stops, then a number", n: 3, timeout: 3 * time.Second, keys: openKeys(" 2"), after: never,
			want: 1, wantHow: ByKey, wantOut: []string{"entry number (Enter: 1)? ", "booting 2) osB"}},
		{name: "a key stops, then enter", n: 3, def: 1, timeout: 3 * time.Second, keys: openKeys("x\r"), after: never,
			want: 1, wantHow: ByDefault},
		{name: "out of range, then a good one", n: 3, timeout: 3 * time.Second, keys: openKeys("x9\r1"), after: never,
			want: 0, wantHow: ByKey, wantOut: []string{"no entry 9: 1 to 3"}},
		{name: "twelve entries: numbers need enter", n: 12, timeout: 3 * time.Second, keys: openKeys("1\x7f12\r"), after: never,
			want: 11, wantHow: ByKey, wantOut: []string{"booting 12) osL"}},
		{name: "twelve entries: one", n: 12, timeout: 3 * time.Second, keys: openKeys("1\r"), after: never,
			want: 0, wantHow: ByKey},
		{name: "stopped, then the keyboard goes", n: 3, def: 2, timeout: 3 * time.Second, keys: keys("x"), after: never,
			want: 2, wantHow: ByTimeout, wantOut: []string{"no more input"}},
		{name: "no timeout waits", n: 3, timeout: -1, keys: openKeys("2"), after: never,
			want: 1, wantHow: ByKey, wantNot: []string{"countdown"}},
		{name: "shell", n: 3, timeout: 3 * time.Second, keys: openKeys("s"), after: never, shell: true,
			want: -1, wantErr: ErrShell, wantOut: []string{", s the shell", "leaving the menu"}},
		{name: "shell from the prompt", n: 3, timeout: 3 * time.Second, keys: openKeys("xs"), after: never, shell: true,
			want: -1, wantErr: ErrShell},
		{name: "no shell offered", n: 3, timeout: 3 * time.Second, keys: openKeys("xs2"), after: never,
			want: 1, wantHow: ByKey, wantNot: []string{"shell"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			m := &Menu{Entries: entries(tc.n), Default: tc.def, Timeout: tc.timeout, Keys: tc.keys, Out: &out, After: tc.after, Shell: tc.shell}
			got, how, err := m.Choose()
			if got != tc.want || how != tc.wantHow || !errors.Is(err, tc.wantErr) {
				t.Errorf("Choose = %d, %q, %v; want %d, %q, %v\n%s", got, how, err, tc.want, tc.wantHow, tc.wantErr, out.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%q", w, out.String())
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%q", w, out.String())
				}
			}
		})
	}
}

func TestChooseNothing(t *testing.T) {
	var out bytes.Buffer
	if _, _, err := (&Menu{Out: &out}).Choose(); err == nil {
		t.Fatal("a menu of no entries chose one")
	}
}

func TestKeys(t *testing.T) {
	var got []byte
	for k := range Keys(strings.NewReader("1x\r")) {
		got = append(got, k)
	}
	if string(got) != "1x\r" {
		t.Fatalf("keys %q", got)
	}
}
