package kmod

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// DepLine is one line of modules.dep: a module path and the paths of the
// modules it needs, relative to the modules directory.
type DepLine struct {
	Path string
	Deps []string
}

// ParseDep parses modules.dep ("path: dep dep ...", blank lines and
// #-comments ignored).
func ParseDep(r io.Reader) ([]DepLine, error) {
	var out []DepLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		p, deps, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("line %d: want \"module.ko: deps...\", got %q", n, l)
		}
		out = append(out, DepLine{Path: strings.TrimSpace(p), Deps: strings.Fields(deps)})
	}
	return out, sc.Err()
}

// WriteDep writes modules.dep for the set: one line per module, sorted by
// path, dependencies listed so that loading from the last to the first
// works (depmod's order).
func WriteDep(w io.Writer, s *Set) error {
	byName := map[string]*Module{}
	for _, m := range s.Modules {
		byName[m.Name] = m
	}
	ms := append([]*Module(nil), s.Modules...)
	sort.Slice(ms, func(i, j int) bool { return ms[i].Path < ms[j].Path })
	bw := bufio.NewWriter(w)
	for _, m := range ms {
		bw.WriteString(m.Path)
		bw.WriteByte(':')
		for _, d := range m.Deps {
			bw.WriteByte(' ')
			bw.WriteString(byName[d].Path)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Alias is one line of modules.alias.
type Alias struct {
	Pattern string // fnmatch pattern over a modalias, e.g. "virtio:d00000001v*"
	Module  string
}

// AliasesOf lists the aliases of the given modules, sorted by module name
// (each module's aliases in .modinfo order).
func AliasesOf(infos []*Info) []Alias {
	is := append([]*Info(nil), infos...)
	sort.SliceStable(is, func(i, j int) bool { return is[i].Name < is[j].Name })
	var out []Alias
	for _, i := range is {
		for _, a := range i.Aliases {
			out = append(out, Alias{Pattern: a, Module: i.Name})
		}
	}
	return out
}

// WriteAlias writes modules.alias lines "alias PATTERN MODULE".
func WriteAlias(w io.Writer, as []Alias) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("# Aliases extracted from modules themselves.\n")
	for _, a := range as {
		fmt.Fprintf(bw, "alias %s %s\n", a.Pattern, a.Module)
	}
	return bw.Flush()
}

// WriteSoftdep writes modules.softdep lines "softdep MODULE pre: ... post: ...".
func WriteSoftdep(w io.Writer, infos []*Info) error {
	is := append([]*Info(nil), infos...)
	sort.SliceStable(is, func(i, j int) bool { return is[i].Name < is[j].Name })
	bw := bufio.NewWriter(w)
	bw.WriteString("# Soft dependencies extracted from modules themselves.\n")
	for _, i := range is {
		if len(i.SoftPre) == 0 && len(i.SoftPost) == 0 {
			continue
		}
		bw.WriteString("softdep " + i.Name)
		if len(i.SoftPre) > 0 {
			bw.WriteString(" pre: " + strings.Join(i.SoftPre, " "))
		}
		if len(i.SoftPost) > 0 {
			bw.WriteString(" post: " + strings.Join(i.SoftPost, " "))
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ParseAlias parses modules.alias ("alias PATTERN MODULE"; comments and
// other lines ignored).
func ParseAlias(r io.Reader) ([]Alias, error) {
	var out []Alias
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "alias" {
			out = append(out, Alias{Pattern: f[1], Module: NormalizeName(f[2])})
		}
	}
	return out, sc.Err()
}
