package testutil

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		name    string
		strict  bool
		lines   []int // -1: a fragment
		err     string
		lost    int
		bounded string // Bounded(1)'s error, "" for none
	}{
		{"clean", true, []int{1, 2, 3, 4}, "", 0, ""},
		{"clean but short", true, []int{1, 2, 3}, "", 1, "3 lines logged, 1 missing"},
		{"strict: a fragment", true, []int{1, -1}, "damaged line", 0, ""},
		{"strict: a replay", true, []int{1, 2, 1}, "line 1 logged again (or out of order) after line 2", 0, ""},
		{"strict: a gap", true, []int{1, 3}, "lines 2..2 missing before line 3", 0, ""},
		{"killed: one line lost, a fragment", false, []int{1, -1, 3, 4}, "", 1, ""},
		{"killed: a replay", false, []int{1, 2, 3, 2, 3, 4}, "", 0, ""},
		{"killed: two lines lost", false, []int{1, 4}, "lines 2..3 missing: a kill may lose one line at most", 0, ""},
		{"killed: too many replays for one kill", false, []int{1, 2, 1, 2, 1, 2, 3, 4}, "", 0, "0 lines lost, 2 replays, 0 fragments for 1 kills"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewLines(4, tc.strict)
			var err error
			for _, n := range tc.lines {
				if err = c.Add(n); err != nil {
					break
				}
			}
			if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
				t.Fatalf("Add: %v, want %q", err, tc.err)
			}
			if err != nil {
				return
			}
			if c.Lost() != tc.lost {
				t.Errorf("Lost = %d, want %d", c.Lost(), tc.lost)
			}
			b := c.Bounded(1)
			if (b == nil) != (tc.bounded == "") || b != nil && !strings.HasPrefix(b.Error(), tc.bounded) {
				t.Errorf("Bounded(1) = %v, want %q", b, tc.bounded)
			}
		})
	}
}
