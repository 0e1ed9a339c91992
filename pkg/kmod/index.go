// Package kmod is the home of Linux kernel modules' names and of the kmod
// text indexes (modules.alias, modules.dep, modules.builtin,
// modules.softdep), and what a running system does with them: it matches
// a device's MODALIAS against the alias globs as kmod does and loads each
// module once, its dependencies first. It is built into the initramfs
// (ueventd), so it imports nothing a running system does not need: what
// only the image generator does (reading .modinfo out of module files,
// computing dependencies, writing the indexes) is in package depmod.
package kmod

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Alias is one "alias PATTERN MODULE" line of modules.alias.
type Alias struct {
	Pattern string // a glob over modaliases, e.g. "virtio:d00000001v*"; normalized by ParseAlias
	Module  string // normalized name
}

// Name normalizes a module name or file name the way kmod does: the
// directory and the .ko[.xz|.zst|.gz] suffix are dropped and "-" becomes
// "_" (virtio-net and virtio_net are one module).
func Name(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.Index(s, ".ko"); i >= 0 && (i+3 == len(s) || s[i+3] == '.') {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// IsModuleFile reports whether a file name is a kernel module (.ko,
// .ko.xz, .ko.zst or .ko.gz).
func IsModuleFile(name string) bool {
	for _, suf := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// NormalizeAlias rewrites an alias or alias pattern the way kmod does
// before comparing (depmod stores the patterns of its binary index so,
// and modprobe treats its argument so): "-" becomes "_" except inside a
// "[...]" set. ok is false for a string kmod rejects: a "]" outside a
// set or a "[" without its "]". Such a pattern is left out of the index
// and such a MODALIAS matches nothing, as with modprobe.
func NormalizeAlias(s string) (norm string, ok bool) {
	if !strings.ContainsAny(s, "-[]") {
		return s, true
	}
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case ']':
			return "", false
		case '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				return "", false
			}
			i += j
		}
	}
	return string(b), true
}

// ParseAlias reads modules.alias. Blank lines and "#" comments are
// skipped; any other line must be "alias PATTERN MODULE". Patterns are
// normalized (NormalizeAlias); one kmod would reject is skipped.
func ParseAlias(r io.Reader) ([]Alias, error) {
	var out []Alias
	err := eachLine(r, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" || Name(f[2]) == "" {
			return fmt.Errorf("line %d: %q is not \"alias PATTERN MODULE\"", n, clip(line))
		}
		if p, ok := NormalizeAlias(f[1]); ok {
			out = append(out, Alias{Pattern: p, Module: Name(f[2])})
		}
		return nil
	})
	return out, err
}

// Dep is one module of modules.dep: its file (relative to the module
// tree) and the names of the modules it needs, in the file's order.
type Dep struct {
	Path string
	Deps []string
}

// ParseDep reads modules.dep ("path/mod.ko: path/dep1.ko path/dep2.ko").
// The map is keyed by normalized module name.
func ParseDep(r io.Reader) (map[string]Dep, error) {
	out := make(map[string]Dep)
	err := eachLine(r, func(n int, line string) error {
		path, rest, ok := strings.Cut(line, ":")
		path = strings.TrimSpace(path)
		if !ok || path == "" || strings.ContainsAny(path, " \t") {
			return fmt.Errorf("line %d: %q is not \"module.ko: deps...\"", n, clip(line))
		}
		var deps []string
		for _, d := range strings.Fields(rest) {
			deps = append(deps, Name(d))
		}
		out[Name(path)] = Dep{Path: path, Deps: deps}
		return nil
	})
	return out, err
}

// Softdep is one "softdep MODULE pre: A B post: C" line of
// modules.softdep: MODULE is a glob over module names; Pre and Post are
// module names or aliases.
type Softdep struct {
	Module    string
	Pre, Post []string
}

// ParseSoftdep reads modules.softdep (or a modprobe.d file's softdep
// lines) the way kmod does: names after "pre:" are loaded before the
// module, names after "post:" after it; names before either keyword
// count for nothing; lines that are not softdep commands are skipped.
func ParseSoftdep(r io.Reader) ([]Softdep, error) {
	var out []Softdep
	err := eachLine(r, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "softdep" {
			return nil
		}
		mod, ok := NormalizeAlias(f[1])
		if !ok {
			return nil
		}
		sd := Softdep{Module: mod}
		var list *[]string
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				list = &sd.Pre
			case "post:":
				list = &sd.Post
			default:
				if list != nil {
					*list = append(*list, w)
				}
			}
		}
		out = append(out, sd)
		return nil
	})
	return out, err
}

// ParseBuiltin reads modules.builtin (one module path per line) and
// returns the set of built-in module names.
func ParseBuiltin(r io.Reader) (map[string]bool, error) {
	out := make(map[string]bool)
	err := eachLine(r, func(n int, line string) error {
		if strings.ContainsAny(line, " \t") {
			return fmt.Errorf("line %d: %q is not a module path", n, clip(line))
		}
		out[Name(line)] = true
		return nil
	})
	return out, err
}

func eachLine(r io.Reader, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", n+1, err)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// Index is the parsed module tree of one kernel.
type Index struct {
	Root           string // the module tree, e.g. /lib/modules/6.1.0-13-amd64
	Aliases        []Alias
	Deps           map[string]Dep
	Builtin        map[string]bool
	BuiltinAliases []Alias   // modules.builtin.alias, when the tree has it
	Softdeps       []Softdep // modules.softdep, when the tree has it
}

// LoadIndex reads modules.alias, modules.dep and (if present)
// modules.builtin, modules.softdep and modules.builtin.alias (text, "alias PATTERN
// MODULE" like modules.alias) from root. modules.alias and modules.dep
// must exist.
func LoadIndex(root string) (*Index, error) {
	idx := &Index{Root: root}
	read := func(name string, optional bool, parse func(io.Reader) error) error {
		p := filepath.Join(root, name)
		f, err := os.Open(p)
		if err != nil {
			if optional && os.IsNotExist(err) {
				return nil
			}
			return err
		}
		defer f.Close()
		if err := parse(f); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		return nil
	}
	if err := read("modules.alias", false, func(r io.Reader) (err error) { idx.Aliases, err = ParseAlias(r); return }); err != nil {
		return nil, err
	}
	if err := read("modules.dep", false, func(r io.Reader) (err error) { idx.Deps, err = ParseDep(r); return }); err != nil {
		return nil, err
	}
	if err := read("modules.builtin", true, func(r io.Reader) (err error) { idx.Builtin, err = ParseBuiltin(r); return }); err != nil {
		return nil, err
	}
	if err := read("modules.softdep", true, func(r io.Reader) (err error) { idx.Softdeps, err = ParseSoftdep(r); return }); err != nil {
		return nil, err
	}
	if err := read("modules.builtin.alias", true, func(r io.Reader) (err error) { idx.BuiltinAliases, err = ParseAlias(r); return }); err != nil {
		return nil, err
	}
	if idx.Builtin == nil {
		idx.Builtin = map[string]bool{}
	}
	for _, a := range idx.BuiltinAliases {
		idx.Builtin[a.Module] = true
	}
	return idx, nil
}

// Lookup returns the modules modprobe would take for modalias, with
// kmod's precedence (without modprobe.d configuration): modalias is
// normalized (NormalizeAlias), then the first of these that gives
// anything wins:
//
//  1. a module of that name in modules.dep (names never hold ":", so a
//     device's MODALIAS never takes this path);
//  2. every module whose modules.alias pattern matches, in file order,
//     each once (all of them, not just the first);
//  3. a module of that name in modules.builtin;
//  4. every module whose modules.builtin.alias pattern matches.
//
// Modules from 3 and 4 are built into the kernel: Load skips them.
func (idx *Index) Lookup(modalias string) []string {
	alias, ok := NormalizeAlias(modalias)
	if !ok || alias == "" {
		return nil
	}
	if !strings.Contains(alias, ":") {
		if _, ok := idx.Deps[alias]; ok {
			return []string{alias}
		}
	}
	if out := matchAll(idx.Aliases, alias); out != nil {
		return out
	}
	if idx.Builtin[alias] {
		return []string{alias}
	}
	return matchAll(idx.BuiltinAliases, alias)
}

// SoftdepsOf returns the modules to load before and after module name,
// as kmod does: only the first modules.softdep line whose glob matches
// the name counts, and each of its names is resolved with Lookup (a name
// may be an alias such as crypto-crc32c). The module itself is left out.
func (idx *Index) SoftdepsOf(name string) (pre, post []string) {
	for _, sd := range idx.Softdeps {
		if !Match(sd.Module, name) {
			continue
		}
		resolve := func(names []string) []string {
			var out []string
			for _, n := range names {
				for _, m := range idx.Lookup(n) {
					if m != name && !slices.Contains(out, m) {
						out = append(out, m)
					}
				}
			}
			return out
		}
		return resolve(sd.Pre), resolve(sd.Post)
	}
	return nil, nil
}

func matchAll(aliases []Alias, alias string) []string {
	var out []string
	var seen map[string]bool
	for _, a := range aliases {
		if !seen[a.Module] && Match(a.Pattern, alias) {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[a.Module] = true
			out = append(out, a.Module)
		}
	}
	return out
}

// Order returns name and everything it depends on, dependencies first,
// each once; built-in modules are left out. A module not in modules.dep
// or a dependency cycle is an error.
func (idx *Index) Order(name string) ([]string, error) {
	var out []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(m string, chain []string) error
	visit = func(m string, chain []string) error {
		switch state[m] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("dependency cycle: %s", strings.Join(append(chain, m), " -> "))
		}
		if idx.Builtin[m] {
			state[m] = 2
			return nil
		}
		d, ok := idx.Deps[m]
		if !ok {
			if len(chain) > 0 {
				return fmt.Errorf("module %s (needed by %s) is not in %s", m, chain[len(chain)-1], filepath.Join(idx.Root, "modules.dep"))
			}
			return fmt.Errorf("module %s is not in %s", m, filepath.Join(idx.Root, "modules.dep"))
		}
		state[m] = 1
		// modules.dep lists the deepest dependencies last; kmod loads the
		// list back to front. Visiting each dependency's own deps first
		// gives a correct order even if the list is not closed.
		for i := len(d.Deps) - 1; i >= 0; i-- {
			if err := visit(d.Deps[i], append(chain, m)); err != nil {
				return err
			}
		}
		state[m] = 2
		out = append(out, m)
		return nil
	}
	if err := visit(name, nil); err != nil {
		return nil, err
	}
	return out, nil
}
