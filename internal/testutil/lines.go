package testutil

import "fmt"

// Lines checks a log of numbered lines, 1 to N, written once and in
// order by a service or a test, as a logger logged them (the proof that
// a logger loses, repeats and damages nothing when it is stopped, and
// only within bounds when it is killed).
//
// A logger stopped cleanly (Strict) must log every line once, in order,
// intact. A logger killed with SIGKILL may lose the beginning of one
// line (the tail is then logged as a fragment) and log again the lines
// of the batch it was writing when it died (a replay: lines going
// backwards), but never skip more than one line.
type Lines struct {
	N      int  // lines are numbered 1..N
	Strict bool // a clean stop: no fragment, replay or gap

	Total     int // lines seen, fragments included
	Fragments int // lines that were not one of the N
	Replays   int // times the numbers went backwards
	Replayed  int // lines logged again by those replays

	seen []int
	next int
}

// NewLines returns a checker for lines 1..n.
func NewLines(n int, strict bool) *Lines {
	return &Lines{N: n, Strict: strict, seen: make([]int, n+1), next: 1}
}

// Add checks the next line of the log: n is its number, or -1 (or any
// number outside 1..N) when the line is not one of the N intact lines.
// It returns an error for what may not happen: in strict mode anything
// but the next line; otherwise more than one line missing.
func (c *Lines) Add(n int) error {
	c.Total++
	if n < 1 || n > c.N {
		if c.Strict {
			return fmt.Errorf("damaged line")
		}
		c.Fragments++
		return nil
	}
	c.seen[n]++
	next := c.next
	c.next = n + 1
	switch {
	case n == next:
	case n < next:
		if c.Strict {
			return fmt.Errorf("line %d logged again (or out of order) after line %d", n, next-1)
		}
		c.Replays++
		c.Replayed += next - n
	case c.Strict:
		return fmt.Errorf("lines %d..%d missing before line %d", next, n-1, n)
	case n-next > 1:
		return fmt.Errorf("lines %d..%d missing: a kill may lose one line at most", next, n-1)
	}
	return nil
}

// Lost returns how many of the lines 1..N were never logged.
func (c *Lines) Lost() int {
	lost := 0
	for i := 1; i <= c.N; i++ {
		if c.seen[i] == 0 {
			lost++
		}
	}
	return lost
}

// Bounded reports an error when a killed logger, killed kills times,
// lost, replayed or damaged more than kills can explain: one line lost
// and one replay per kill, two fragments per kill (a line cut when read,
// a write cut when killed). A strict check wants no line lost at all.
func (c *Lines) Bounded(kills int) error {
	lost := c.Lost()
	if c.Strict {
		if lost > 0 || c.Total != c.N {
			return fmt.Errorf("%d lines logged, %d missing; want each of the %d lines once", c.Total, lost, c.N)
		}
		return nil
	}
	if lost > kills || c.Replays > kills || c.Fragments > 2*kills {
		return fmt.Errorf("%d lines lost, %d replays, %d fragments for %d kills", lost, c.Replays, c.Fragments, kills)
	}
	return nil
}
