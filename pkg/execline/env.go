package execline

import (
	"strconv"
	"strings"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Env is an environment as execve takes it: "name=value" strings.
// Methods keep the order of existing entries.
type Env []string

// Get returns the value of name and whether it is set.
func (e Env) Get(name string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// Set sets name to value.
func (e *Env) Set(name, value string) {
	kv := name + "=" + value
	for i, s := range *e {
		if k, _, _ := strings.Cut(s, "="); k == name {
			(*e)[i] = kv
			e.removeAfter(i, name)
			return
		}
	}
	*e = append(*e, kv)
}

func (e *Env) removeAfter(i int, name string) {
	out := (*e)[:i+1]
	for _, s := range (*e)[i+1:] {
		if k, _, _ := strings.Cut(s, "="); k != name {
			out = append(out, s)
		}
	}
	*e = out
}

// Unset removes name.
func (e *Env) Unset(name string) {
	e.Filter(func(k string) bool { return k != name })
}

// Filter keeps the entries whose name satisfies keep.
func (e *Env) Filter(keep func(name string) bool) {
	out := (*e)[:0]
	for _, s := range *e {
		k, _, _ := strings.Cut(s, "=")
		if keep(k) {
			out = append(out, s)
		}
	}
	*e = out
}

// Clone returns a copy of e.
func (e Env) Clone() Env { return append(Env(nil), e...) }

// frame splits "base:depth" into base and depth (0 without a suffix).
func frame(name string) (base string, depth int) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return name, 0
	}
	d, err := strconv.Atoi(name[i+1:])
	if err != nil || d <= 0 || name[i+1] == '+' || name[i+1] == '0' {
		return name, 0
	}
	return name[:i], d
}

// push renames every variable selected by sel one frame deeper:
// X becomes X:1, X:n becomes X:n+1.
func (e *Env) push(sel func(base string) bool) {
	for i, s := range *e {
		k, v, _ := strings.Cut(s, "=")
		base, d := frame(k)
		if sel(base) {
			(*e)[i] = base + ":" + itoa(d+1) + "=" + v
		}
	}
}

// pop drops the current frame of the variables selected by sel and
// brings the deeper frames up: X is removed, X:1 becomes X, X:n X:n-1.
func (e *Env) pop(sel func(base string) bool) {
	out := (*e)[:0]
	for _, s := range *e {
		k, v, _ := strings.Cut(s, "=")
		base, d := frame(k)
		switch {
		case !sel(base):
			out = append(out, s)
		case d == 0:
		case d == 1:
			out = append(out, base+"="+v)
		default:
			out = append(out, base+":"+itoa(d-1)+"="+v)
		}
	}
	*e = out
}

// positional reports whether a variable name belongs to execline's
// positional parameters (#, 0, 1, ...).
func positional(base string) bool {
	return base != "" && (base[0] == '#' || (base[0] >= '0' && base[0] <= '9'))
}

func elgetopt(base string) bool { return strings.HasPrefix(base, "ELGETOPT_") }

// PushPositionals pushes the current positional parameters one frame
// down and sets a new frame: # = len(args), 0 = name, 1.. = args.
// With push false the current frame is overwritten instead (execlineb -p).
func (e *Env) PushPositionals(name string, args []string, push bool) {
	if push {
		e.push(positional)
	}
	e.Set("#", itoa(len(args)))
	e.Set("0", name)
	for i, a := range args {
		e.Set(itoa(i+1), a)
	}
}

// PopPositionals drops the current frame of positional parameters
// (emptyenv -P).
func (e *Env) PopPositionals() { e.pop(positional) }

// PopElgetopt drops the current frame of ELGETOPT_ variables (emptyenv -o).
func (e *Env) PopElgetopt() { e.pop(elgetopt) }

// CleanExecline removes every variable execline uses internally:
// positional parameters of all frames, ELGETOPT_* and EXECLINE_*
// (emptyenv -c).
func (e *Env) CleanExecline() {
	e.Filter(func(k string) bool {
		base, _ := frame(k)
		return !positional(base) && !elgetopt(base) && !strings.HasPrefix(base, "EXECLINE_")
	})
}
