package rc

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// DB is a checked set of definitions and its dependency graph over the
// atomic services (oneshots and longruns). Bundles are flattened: a
// bundle stands for the atomic services it holds, directly or through
// other bundles.
type DB struct {
	Services map[string]*Service // every service and bundle by name
	names    []string            // every name, sorted
	atoms    []*Service          // atomic services by id, in name order
	index    map[string]int      // atomic name -> id
	deps     [][]int             // direct atomic dependencies, sorted ids
	rdeps    [][]int             // direct dependents, sorted ids
	members  map[string][]int    // bundle -> atomic ids, sorted
	// Consumer maps a producer longrun to the longrun reading its
	// output (producer-for, checked against consumer-for).
	Consumer map[string]string
	// LoggerOf maps the consumer of a two-service pipeline (one
	// producer, one consumer) to its producer: the consumer's service
	// directory is the producer's log/, so the scanner holds the pipe.
	LoggerOf map[string]string
	// Pipeline maps each member of a longer pipeline or a funnel to
	// all its members, producers before their consumer: each is
	// installed under its own name with producer-for, all of them
	// together, and svscan holds a pipe per consumer (docs/svrc.md).
	Pipeline map[string][]string
}

// Load reads the definitions under every dir and builds their graph.
// Problems found while reading are returned with the graph's; the DB
// is nil when there are any.
func Load(dirs ...string) (*DB, Problems) {
	var all []*Service
	var probs Problems
	for _, d := range dirs {
		svcs, ps := ReadDir(d)
		all = append(all, svcs...)
		probs = append(probs, ps...)
	}
	db, ps := Build(all)
	probs = append(probs, ps...)
	if len(probs) > 0 {
		return nil, probs
	}
	return db, nil
}

// Build checks a set of definitions and builds the graph: every name
// unique, every dependency and bundle member defined, no cycle among
// bundles or dependencies, pipelines declared on both ends.
func Build(svcs []*Service) (*DB, Problems) {
	db := &DB{Services: map[string]*Service{}, index: map[string]int{},
		members: map[string][]int{}, Consumer: map[string]string{},
		LoggerOf: map[string]string{}, Pipeline: map[string][]string{}}
	var probs Problems
	bad := func(s *Service, file, format string, a ...any) {
		probs = append(probs, Problem{filepath.Join(s.Dir, file), fmt.Sprintf(format, a...)})
	}
	for _, s := range svcs {
		if o, dup := db.Services[s.Name]; dup {
			bad(s, "", "a service named %s is already defined in %s: rename one of them", s.Name, o.Dir)
			continue
		}
		db.Services[s.Name] = s
	}
	// Pipeline bundles are services too.
	pipeBundles := pipelines(db, bad)
	for p, c := range db.Consumer {
		ps, cs := db.Services[p], db.Services[c]
		if len(cs.ConsumerFor) == 1 && cs.ProducerFor == "" && len(ps.ConsumerFor) == 0 {
			db.LoggerOf[c] = p
			continue
		}
	}
	namedPipelines(db)
	for _, s := range pipeBundles {
		if o, dup := db.Services[s.Name]; dup {
			bad(o, "", "the pipeline-name of %s names a pipeline bundle %s that is already a service: rename one", s.Dir, s.Name)
			continue
		}
		db.Services[s.Name] = s
	}
	for n := range db.Services {
		db.names = append(db.names, n)
	}
	sort.Strings(db.names)
	for _, n := range db.names {
		if s := db.Services[n]; s.Type != Bundle {
			db.index[n] = len(db.atoms)
			db.atoms = append(db.atoms, s)
		}
	}
	// Bundles, flattened; a cycle among bundles is printed.
	state := map[string]int{} // 0 new, 1 on the stack, 2 done
	var stack []string
	var flatten func(b *Service) []int
	flatten = func(b *Service) []int {
		switch state[b.Name] {
		case 1:
			i := indexOf(stack, b.Name)
			cycle := append(append([]string{}, stack[i:]...), b.Name)
			bad(b, b.ContentsFile, "bundle cycle %s: remove one of these members", strings.Join(cycle, " -> "))
			return nil
		case 2:
			return db.members[b.Name]
		}
		state[b.Name] = 1
		stack = append(stack, b.Name)
		set := map[int]bool{}
		for _, m := range b.Contents {
			ms, ok := db.Services[m]
			if !ok {
				bad(b, filepath.Join(b.ContentsFile, m), "no service named %s%s: define it or remove it from the bundle", m, hint(m, db.names))
				continue
			}
			if ms.Type == Bundle {
				for _, id := range flatten(ms) {
					set[id] = true
				}
			} else {
				set[db.index[m]] = true
			}
		}
		stack = stack[:len(stack)-1]
		state[b.Name] = 2
		db.members[b.Name] = sortedIDs(set)
		return db.members[b.Name]
	}
	for _, n := range db.names {
		if s := db.Services[n]; s.Type == Bundle {
			flatten(s)
			if s.Essential {
				for _, id := range db.members[n] {
					db.atoms[id].Essential = true
				}
			}
		}
	}
	// Dependencies of atomic services, bundles expanded.
	db.deps = make([][]int, len(db.atoms))
	db.rdeps = make([][]int, len(db.atoms))
	for id, s := range db.atoms {
		set := map[int]bool{}
		for _, d := range s.Deps {
			ds, ok := db.Services[d]
			if !ok {
				bad(s, filepath.Join(s.DepsFile, d), "no service named %s%s: define it or remove the dependency", d, hint(d, db.names))
				continue
			}
			if ds.Type == Bundle {
				for _, m := range db.members[d] {
					set[m] = true
				}
			} else {
				set[db.index[d]] = true
			}
		}
		// A producer needs its consumer: the reader is there first
		// and goes last.
		if c, ok := db.Consumer[s.Name]; ok {
			if cid, ok := db.index[c]; ok {
				set[cid] = true
			}
		}
		if set[id] {
			bad(s, s.DepsFile, "%s depends on itself (directly or through a bundle): remove that dependency", s.Name)
			delete(set, id)
		}
		db.deps[id] = sortedIDs(set)
		for d := range set {
			db.rdeps[d] = append(db.rdeps[d], id)
		}
	}
	for i := range db.rdeps {
		sort.Ints(db.rdeps[i])
	}
	if c := db.cycle(); c != nil {
		names := make([]string, len(c))
		for i, id := range c {
			names[i] = db.atoms[id].Name
		}
		s := db.atoms[c[0]]
		bad(s, s.DepsFile, "dependency cycle %s: remove one of these dependencies", strings.Join(names, " -> "))
	}
	if len(probs) > 0 {
		return db, probs
	}
	return db, nil
}

// pipelines checks producer-for against consumer-for, fills
// db.Consumer, and returns the bundles named by pipeline-name files.
func pipelines(db *DB, bad func(*Service, string, string, ...any)) []*Service {
	longrun := func(s *Service, file, name string) *Service {
		o, ok := db.Services[name]
		if !ok {
			bad(s, file, "no service named %s%s: define it or fix the name", name, hint(name, keys(db.Services)))
			return nil
		}
		if o.Type != Longrun {
			bad(s, file, "%s is a %s: only longruns form pipelines", name, o.Type)
			return nil
		}
		return o
	}
	for _, s := range sortedServices(db.Services) {
		if s.Type != Longrun {
			continue
		}
		if s.ProducerFor != "" {
			if c := longrun(s, FileProducerFor, s.ProducerFor); c != nil {
				if indexOf(c.ConsumerFor, s.Name) < 0 {
					bad(s, FileProducerFor, "%s does not declare %s in its consumer-for: add %s to %s",
						c.Name, s.Name, s.Name, filepath.Join(c.Dir, FileConsumerFor))
				} else {
					db.Consumer[s.Name] = c.Name
				}
			}
		}
		for _, p := range s.ConsumerFor {
			if ps := longrun(s, FileConsumerFor, p); ps != nil && ps.ProducerFor != s.Name {
				bad(s, FileConsumerFor, "%s does not declare %s in its producer-for: write %s in %s",
					p, s.Name, s.Name, filepath.Join(ps.Dir, FileProducerFor))
			}
		}
	}
	// A chain of producer-for that comes back is a cycle.
	for _, s := range sortedServices(db.Services) {
		seen := []string{s.Name}
		for c, ok := db.Consumer[s.Name]; ok; c, ok = db.Consumer[c] {
			if c == s.Name {
				bad(s, FileProducerFor, "pipeline cycle %s: a pipeline must end", strings.Join(append(seen, c), " -> "))
				break
			}
			if indexOf(seen, c) >= 0 {
				break // reported from its own start
			}
			seen = append(seen, c)
		}
	}
	var bundles []*Service
	for _, s := range sortedServices(db.Services) {
		if s.PipelineName == "" || s.Type != Longrun {
			continue
		}
		if s.ProducerFor != "" || len(s.ConsumerFor) == 0 {
			continue // ignored, as s6-rc-compile does: not a last consumer
		}
		var members []string
		var walk func(n string)
		walk = func(n string) {
			if indexOf(members, n) >= 0 {
				return
			}
			members = append(members, n)
			if o := db.Services[n]; o != nil {
				for _, p := range o.ConsumerFor {
					if db.Consumer[p] == n {
						walk(p)
					}
				}
			}
		}
		walk(s.Name)
		sort.Strings(members)
		bundles = append(bundles, &Service{Name: s.PipelineName, Dir: s.Dir, Type: Bundle,
			Contents: members, ContentsFile: FilePipelineName})
	}
	return bundles
}

// namedPipelines fills db.Pipeline for every pipeline that is not a
// producer and its log/: a chain of more than two services (a -> b ->
// c) or a funnel (a, b -> c), found from its last consumer.
func namedPipelines(db *DB) {
	for _, s := range sortedServices(db.Services) {
		if s.Type != Longrun || s.ProducerFor != "" || len(s.ConsumerFor) == 0 {
			continue // not the last consumer of a pipeline
		}
		if _, ok := db.LoggerOf[s.Name]; ok {
			continue
		}
		// From the consumer back through its producers: reversed, every
		// producer comes before its consumer.
		order := []string{s.Name}
		seen := map[string]bool{s.Name: true}
		for i := 0; i < len(order); i++ {
			c := order[i]
			for _, p := range db.Services[c].ConsumerFor {
				if db.Consumer[p] == c && !seen[p] {
					seen[p] = true
					order = append(order, p)
				}
			}
		}
		if len(order) < 2 {
			continue
		}
		slices.Reverse(order)
		for _, n := range order {
			db.Pipeline[n] = order
		}
	}
}

// cycle returns a dependency cycle (first id repeated at the end), or
// nil if the graph has none.
func (db *DB) cycle() []int {
	color := make([]byte, len(db.atoms))
	var stack []int
	var found []int
	var visit func(int) bool
	visit = func(i int) bool {
		color[i] = 1
		stack = append(stack, i)
		for _, d := range db.deps[i] {
			if color[d] == 1 {
				at := 0
				for k, v := range stack {
					if v == d {
						at = k
					}
				}
				found = append(append([]int{}, stack[at:]...), d)
				return true
			}
			if color[d] == 0 && visit(d) {
				return true
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = 2
		return false
	}
	for i := range db.atoms {
		if color[i] == 0 && visit(i) {
			return found
		}
	}
	return nil
}

// hint suggests the defined names nearest to a missing one.
func hint(name string, names []string) string {
	var near []string
	best := -1
	for _, n := range names {
		d := distance(name, n)
		if d > max(1, len(name)/3) {
			continue
		}
		if best < 0 || d < best {
			best, near = d, []string{n}
		} else if d == best && len(near) < 3 {
			near = append(near, n)
		}
	}
	if len(near) == 0 {
		return ""
	}
	return " (did you mean " + strings.Join(near, " or ") + "?)"
}

func nearest(word string, names []string) string {
	h := hint(word, names)
	if h == "" {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, " (did you mean "), "?)")
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func sortedIDs(set map[int]bool) []int {
	ids := make([]int, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func keys(m map[string]*Service) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sortedServices(m map[string]*Service) []*Service {
	var out []*Service
	for _, k := range keys(m) {
		out = append(out, m[k])
	}
	return out
}
