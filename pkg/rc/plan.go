package rc

import (
	"fmt"
	"io"
)

// Plan is the set of transitions that brings a selection up or down,
// in layers that can each run in parallel. The executor does not wait
// for a whole layer: a transition starts as soon as the ones it needs
// are done; layers are for printing and for bounds.
type Plan struct {
	Up     bool
	Set    map[int]bool // the services that change state
	Layers [][]int
	// Kept lists the essential services (and what they need) that a
	// down change leaves up because force was not given.
	Kept []int
}

// Plan computes the transitions bringing the selection sel up (with
// everything it depends on) or down (with everything that depends on
// it). isUp tells the current state of an atomic service; services
// already in the wanted state need no transition. Going down without
// force, essential services stay up, and so does what they need.
func (db *DB) Plan(sel map[int]bool, up, force bool, isUp func(id int) bool) *Plan {
	closed := db.Closure(sel, up)
	p := &Plan{Up: up, Set: map[int]bool{}}
	if !up && !force {
		ess := map[int]bool{}
		for id := range closed {
			if db.atoms[id].Essential {
				ess[id] = true
			}
		}
		if len(ess) > 0 {
			keep := db.Closure(ess, true)
			for _, id := range sortedIDs(keep) {
				if closed[id] {
					delete(closed, id)
					if isUp(id) {
						p.Kept = append(p.Kept, id)
					}
				}
			}
		}
	}
	for id := range closed {
		if isUp(id) != up {
			p.Set[id] = true
		}
	}
	p.Layers = db.Layers(p.Set, up)
	return p
}

// PrunePlans returns the two plans of a pruning change (svrc -p),
// carried out in order: first everything unwanted down, then the wanted
// up. Going up, the wanted state is exactly the selection and what it
// needs; going down, the most that holds no service of the selection
// (the selection and its dependents down, everything else up).
func (db *DB) PrunePlans(sel map[int]bool, up, force bool, isUp func(id int) bool) []*Plan {
	keep := db.Closure(sel, up)
	other := map[int]bool{}
	for id := range db.atoms {
		if !keep[id] {
			other[id] = true
		}
	}
	if !up {
		keep, other = other, keep
	}
	down := db.Plan(other, false, force, isUp)
	// What the first plan stops counts as down for the second.
	after := func(id int) bool { return isUp(id) && !down.Set[id] }
	return []*Plan{down, db.Plan(keep, true, false, after)}
}

// Print writes the plan, one transition a line, layer by layer:
// "LAYER up|down TYPE NAME", with what each waits for.
func (p *Plan) Print(w io.Writer, db *DB) {
	dir := "down"
	if p.Up {
		dir = "up"
	}
	for i, l := range p.Layers {
		for _, id := range l {
			s := db.atoms[id]
			what := ""
			switch {
			case s.Type == Longrun && p.Up && s.NotificationFd:
				what = " (until ready)"
			case s.Type == Oneshot && p.Up:
				what = " (runs up)"
			case s.Type == Oneshot && !p.Up:
				what = " (runs down)"
			}
			after := db.Before(id, p.Set, p.Up)
			if len(after) > 0 {
				what += " after"
				for _, a := range after {
					what += " " + db.atoms[a].Name
				}
			}
			fmt.Fprintf(w, "%d %s %s %s%s\n", i+1, dir, s.Type, s.Name, what)
		}
	}
	for _, id := range p.Kept {
		fmt.Fprintf(w, "- kept up %s %s (essential, or needed by an essential service: -D stops it)\n", db.atoms[id].Type, db.atoms[id].Name)
	}
}
