package depmod

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/svinit/svinit/pkg/kmod"
)

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

// AliasesOf lists the aliases of the given modules, sorted by module name
// (each module's aliases in .modinfo order).
func AliasesOf(infos []*Info) []kmod.Alias {
	is := append([]*Info(nil), infos...)
	sort.SliceStable(is, func(i, j int) bool { return is[i].Name < is[j].Name })
	var out []kmod.Alias
	for _, i := range is {
		for _, a := range i.Aliases {
			out = append(out, kmod.Alias{Pattern: a, Module: i.Name})
		}
	}
	return out
}

// WriteAlias writes modules.alias lines "alias PATTERN MODULE".
func WriteAlias(w io.Writer, as []kmod.Alias) error {
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
