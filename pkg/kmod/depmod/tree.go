package depmod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/svinit/svinit/pkg/kmod"
)

// Tree is one kernel's module directory, /lib/modules/<version>.
type Tree struct {
	dir     string
	version string
	paths   map[string]string   // module name -> path relative to dir
	builtin map[string]bool     // module names built into the kernel
	deps    map[string][]string // from modules.dep (nil: compute from .modinfo)
	infos   map[string]*Info    // parsed .modinfo cache
}

// FindModulesDir locates the /lib/modules/<version> directory inside src:
// src itself when it holds modules (a kernel/ directory or modules.* files),
// or the only version under src/lib/modules or src/usr/lib/modules.
func FindModulesDir(src string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s: not a directory (want a /lib/modules/VERSION tree or a root holding lib/modules)", src)
	}
	if isModulesDir(src) {
		return src, nil
	}
	for _, sub := range []string{"lib/modules", "usr/lib/modules", "modules"} {
		ents, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			continue
		}
		var found []string
		for _, e := range ents {
			p := filepath.Join(src, sub, e.Name())
			if e.IsDir() && isModulesDir(p) {
				found = append(found, p)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			return "", fmt.Errorf("%s: several kernel versions under %s (%s): name one directory", src, sub, strings.Join(baseNames(found), ", "))
		}
	}
	return "", fmt.Errorf("%s: no kernel modules found (want a /lib/modules/VERSION tree or a root holding lib/modules/VERSION)", src)
}

func baseNames(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = filepath.Base(p)
	}
	return out
}

func isModulesDir(dir string) bool {
	for _, n := range []string{"kernel", "modules.dep", "modules.builtin", "modules.order"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			return true
		}
	}
	return false
}

// Open indexes the modules under dir (a /lib/modules/<version> directory).
// The version is dir's base name.
func Open(dir string) (*Tree, error) {
	t := &Tree{
		dir:     dir,
		version: filepath.Base(dir),
		paths:   map[string]string{},
		builtin: map[string]bool{},
		infos:   map[string]*Info{},
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !kmod.IsModuleFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := kmod.Name(rel)
		// Like depmod, prefer updates/ and extra/ over kernel/.
		if old, ok := t.paths[name]; ok && !strings.HasPrefix(old, "kernel/") {
			return nil
		}
		t.paths[name] = rel
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing modules in %s: %w", dir, err)
	}
	if f, err := os.Open(filepath.Join(dir, "modules.builtin")); err == nil {
		t.builtin, err = kmod.ParseBuiltin(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/modules.builtin: %w", dir, err)
		}
	}
	if f, err := os.Open(filepath.Join(dir, "modules.dep")); err == nil {
		deps, err := kmod.ParseDep(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s/modules.dep: %w", dir, err)
		}
		t.deps = map[string][]string{}
		for name, d := range deps {
			t.deps[name] = d.Deps
		}
	}
	return t, nil
}

// Dir is the tree's directory.
func (t *Tree) Dir() string { return t.dir }

// Version is the kernel release the tree belongs to (its directory name).
func (t *Tree) Version() string { return t.version }

// Names lists every module file's name, sorted.
func (t *Tree) Names() []string {
	out := make([]string, 0, len(t.paths))
	for n := range t.paths {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Path returns the module's file path relative to the tree.
func (t *Tree) Path(name string) (string, bool) {
	p, ok := t.paths[kmod.Name(name)]
	return p, ok
}

// Builtin reports whether modules.builtin lists the module.
func (t *Tree) Builtin(name string) bool { return t.builtin[kmod.Name(name)] }

// HasDepFile reports whether the tree came with a modules.dep.
func (t *Tree) HasDepFile() bool { return t.deps != nil }

// Info parses (once) the named module's .modinfo.
func (t *Tree) Info(name string) (*Info, error) {
	name = kmod.Name(name)
	if i, ok := t.infos[name]; ok {
		return i, nil
	}
	rel, ok := t.paths[name]
	if !ok {
		return nil, t.notFound(name)
	}
	info, err := ReadModinfo(filepath.Join(t.dir, rel))
	if err != nil {
		return nil, err
	}
	t.infos[name] = info
	return info, nil
}

// directDeps returns the module's hard dependencies: from modules.dep when
// the tree has one, else from .modinfo.
func (t *Tree) directDeps(name string) ([]string, error) {
	if t.deps != nil {
		if d, ok := t.deps[name]; ok {
			return d, nil
		}
	}
	info, err := t.Info(name)
	if err != nil {
		return nil, err
	}
	return info.Depends, nil
}

// NotFoundError is returned for a module the tree does not have.
type NotFoundError struct {
	Name    string
	Version string
	Near    []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("module %q not found in kernel %s", e.Name, e.Version)
	if len(e.Near) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(e.Near, ", "))
	}
	return msg
}

func (t *Tree) notFound(name string) error {
	return &NotFoundError{Name: name, Version: t.version, Near: Near(name, t.Names(), 3)}
}

// Module is one module of a resolved set.
type Module struct {
	Name string
	Path string   // relative to the tree, e.g. kernel/drivers/net/virtio_net.ko
	Deps []string // names of all (transitive) hard dependencies, in depmod order: load from the end
	Info *Info
}

// Set is a dependency-closed set of modules, in load order (every module
// after its dependencies).
type Set struct {
	Modules []*Module
	Builtin []string // requested names that are built into the kernel
}

// ErrCycle reports a dependency cycle.
var ErrCycle = errors.New("dependency cycle")

// Resolve returns the named modules with all their hard dependencies and,
// when soft is true, their soft (pre/post) dependencies that exist as
// modules. Names built into the kernel are reported in Set.Builtin.
func (t *Tree) Resolve(names []string, soft bool) (*Set, error) {
	set := &Set{}
	state := map[string]int{} // 1 visiting, 2 done
	byName := map[string]*Module{}
	var visit func(name string, stack []string, required bool) error
	visit = func(name string, stack []string, required bool) error {
		name = kmod.Name(name)
		switch state[name] {
		case 1:
			return fmt.Errorf("%w: %s", ErrCycle, strings.Join(append(stack, name), " -> "))
		case 2:
			return nil
		}
		rel, ok := t.paths[name]
		if !ok {
			if t.builtin[name] {
				if len(stack) == 0 {
					set.Builtin = append(set.Builtin, name)
				}
				state[name] = 2
				return nil
			}
			if !required {
				state[name] = 2
				return nil
			}
			if len(stack) > 0 {
				return fmt.Errorf("module %s (needed by %s) not found in kernel %s", name, strings.Join(stack, " <- "), t.version)
			}
			return t.notFound(name)
		}
		state[name] = 1
		deps, err := t.directDeps(name)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, append(stack, name), true); err != nil {
				return err
			}
		}
		info, err := t.Info(name)
		if err != nil {
			return err
		}
		if soft {
			for _, d := range info.SoftPre {
				if err := visit(d, append(stack, name), false); err != nil {
					return err
				}
			}
		}
		state[name] = 2
		m := &Module{Name: name, Path: rel, Info: info}
		byName[name] = m
		set.Modules = append(set.Modules, m)
		if soft {
			for _, d := range info.SoftPost {
				if err := visit(d, append(stack, name), false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n, nil, true); err != nil {
			return nil, err
		}
	}
	// Transitive deps per module, ordered so that reading the list from the
	// end gives a valid load order (as depmod writes them).
	pos := map[string]int{}
	for i, m := range set.Modules {
		pos[m.Name] = i
	}
	for _, m := range set.Modules {
		seen := map[string]bool{}
		var walk func(n string) error
		walk = func(n string) error {
			deps, err := t.directDeps(n)
			if err != nil {
				return err
			}
			for _, d := range deps {
				d = kmod.Name(d)
				if seen[d] || byName[d] == nil {
					continue
				}
				seen[d] = true
				if err := walk(d); err != nil {
					return err
				}
			}
			return nil
		}
		if err := walk(m.Name); err != nil {
			return nil, err
		}
		for d := range seen {
			m.Deps = append(m.Deps, d)
		}
		sort.Slice(m.Deps, func(i, j int) bool { return pos[m.Deps[i]] > pos[m.Deps[j]] })
	}
	return set, nil
}

// AllInfos parses every module of the tree (slow on a full distribution
// kernel: it reads every file).
func (t *Tree) AllInfos() ([]*Info, error) {
	var out []*Info
	for _, n := range t.Names() {
		i, err := t.Info(n)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, nil
}

// Near returns up to max names from candidates closest to name by edit
// distance (only reasonably close ones), best first.
func Near(name string, candidates []string, max int) []string {
	type cand struct {
		s string
		d int
	}
	limit := len(name)/3 + 1
	var cs []cand
	for _, c := range candidates {
		d := editDistance(name, c)
		if strings.Contains(c, name) || strings.Contains(name, c) {
			d = min(d, 1+abs(len(c)-len(name))/4)
		}
		if d <= limit {
			cs = append(cs, cand{c, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].s < cs[j].s
	})
	var out []string
	for i := 0; i < len(cs) && i < max; i++ {
		out = append(out, cs[i].s)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and transpositions of adjacent bytes cost 1.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
