package rc

import (
	"fmt"
	"sort"
)

// UnknownError names arguments that are neither services nor bundles.
type UnknownError struct {
	Names []string
	Hints []string
}

func (e *UnknownError) Error() string {
	s := ""
	for i, n := range e.Names {
		if i > 0 {
			s += "; "
		}
		s += fmt.Sprintf("no service or bundle named %s%s", n, e.Hints[i])
	}
	return s + " (svrc listall lists what is defined)"
}

// Names lists every service and bundle, sorted.
func (db *DB) Names() []string { return db.names }

// Atoms lists the atomic services (oneshots and longruns) by id.
func (db *DB) Atoms() []*Service { return db.atoms }

// ID returns the id of an atomic service.
func (db *DB) ID(name string) (int, bool) {
	id, ok := db.index[name]
	return id, ok
}

// Deps returns the direct atomic dependencies of atomic service id.
func (db *DB) Deps(id int) []int { return db.deps[id] }

// Dependents returns the atomic services that depend directly on id.
func (db *DB) Dependents(id int) []int { return db.rdeps[id] }

// Resolve turns service and bundle names into the set of atomic
// services they stand for (the selection).
func (db *DB) Resolve(names []string) (map[int]bool, error) {
	sel := map[int]bool{}
	var unk *UnknownError
	for _, n := range names {
		if id, ok := db.index[n]; ok {
			sel[id] = true
			continue
		}
		if ms, ok := db.members[n]; ok {
			for _, id := range ms {
				sel[id] = true
			}
			continue
		}
		if unk == nil {
			unk = &UnknownError{}
		}
		unk.Names = append(unk.Names, n)
		unk.Hints = append(unk.Hints, hint(n, db.names))
	}
	if unk != nil {
		return nil, unk
	}
	return sel, nil
}

// Closure returns the selection plus, going up, everything it depends
// on (recursively) or, going down, everything that depends on it.
func (db *DB) Closure(sel map[int]bool, up bool) map[int]bool {
	out := map[int]bool{}
	var todo []int
	for id := range sel {
		out[id] = true
		todo = append(todo, id)
	}
	edges := db.deps
	if !up {
		edges = db.rdeps
	}
	for len(todo) > 0 {
		id := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for _, d := range edges[id] {
			if !out[d] {
				out[d] = true
				todo = append(todo, d)
			}
		}
	}
	return out
}

// Layers splits set into layers that can run in parallel: going up, a
// service's layer comes after those of its dependencies in set; going
// down, after those of its dependents in set. Each layer is sorted by
// name.
func (db *DB) Layers(set map[int]bool, up bool) [][]int {
	edges := db.deps
	if !up {
		edges = db.rdeps
	}
	level := map[int]int{}
	var depth func(int) int
	depth = func(id int) int {
		if l, ok := level[id]; ok {
			return l
		}
		l := 0
		for _, d := range edges[id] {
			if set[d] {
				l = max(l, depth(d)+1)
			}
		}
		level[id] = l
		return l
	}
	var layers [][]int
	for _, id := range sortedIDs(set) {
		l := depth(id)
		for len(layers) <= l {
			layers = append(layers, nil)
		}
		layers[l] = append(layers[l], id)
	}
	for _, l := range layers {
		sort.Ints(l)
	}
	return layers
}

// Before returns the services of set that id must wait for: going up,
// its dependencies in set; going down, its dependents in set.
func (db *DB) Before(id int, set map[int]bool, up bool) []int {
	edges := db.deps
	if !up {
		edges = db.rdeps
	}
	var out []int
	for _, d := range edges[id] {
		if set[d] {
			out = append(out, d)
		}
	}
	return out
}
