package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits are what a service directory asks of its cgroup, as the
// kernel's interface files take them; an empty field is the kernel's
// default (no limit, weight 100).
type Limits struct {
	MemoryMax string // memory.max: bytes, or "max"
	PidsMax   string // pids.max: a number of processes, or "max"
	CPUWeight string // cpu.weight: 1 to 10000
}

// One limit: its interface file, its controller, the value that undoes it.
type limit struct {
	file, controller, def string
	get                   func(*Limits) string
}

var limits = []limit{
	{"memory.max", "memory", "max", func(l *Limits) string { return l.MemoryMax }},
	{"pids.max", "pids", "max", func(l *Limits) string { return l.PidsMax }},
	{"cpu.weight", "cpu", "100", func(l *Limits) string { return l.CPUWeight }},
}

// ErrUnavailable is wrapped by SetLimits' error for a limit whose
// controller the subtree does not have.
type ErrUnavailable struct {
	File, Controller, Dir string
}

func (e *ErrUnavailable) Error() string {
	return fmt.Sprintf("%s is unavailable: the %s controller is not enabled in %s (cgroup.controllers)", e.File, e.Controller, e.Dir)
}

// SetLimits writes the limits that changed since the last call (each
// file once at first). A limit whose controller is missing is an
// *ErrUnavailable among the errors returned; the others are still set.
func (g *Group) SetLimits(l Limits) []error {
	var errs []error
	for _, lm := range limits {
		v, old := lm.get(&l), lm.get(&g.limits)
		if g.written && v == old {
			continue
		}
		if !g.t.Has(lm.controller) {
			if v != "" {
				errs = append(errs, &ErrUnavailable{lm.file, lm.controller, g.t.dir})
			}
			continue
		}
		if v == "" {
			if !g.written {
				continue // a new cgroup has the default
			}
			v = lm.def
		}
		if err := g.write(lm.file, v); err != nil {
			errs = append(errs, err)
		}
	}
	g.limits, g.written = l, true
	return errs
}

// ParseMemory checks a memory limit as a service directory gives it:
// "max", or a number of bytes with an optional K, M, G or T suffix
// (powers of 1024), and returns it as memory.max takes it.
func ParseMemory(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return s, nil
	}
	mult := uint64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		case 'T', 't':
			mult = 1 << 40
		}
		if mult != 1 {
			s = s[:n-1]
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return "", fmt.Errorf("not a size: bytes with an optional K, M, G or T, or max")
	}
	return strconv.FormatUint(n*mult, 10), nil
}

// ParsePids checks a process limit: "max" or a number.
func ParsePids(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "max" {
		return s, nil
	}
	if _, err := strconv.ParseUint(s, 10, 31); err != nil {
		return "", fmt.Errorf("not a number of processes or max")
	}
	return s, nil
}

// ParseCPUWeight checks a CPU weight: 1 to 10000 (100 is the default).
func ParseCPUWeight(s string) (string, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n < 1 || n > 10000 {
		return "", fmt.Errorf("not a weight from 1 to 10000")
	}
	return s, nil
}

// Stats are a service's cgroup figures, as svstat shows them. A figure
// the kernel does not give (no such controller) has its Has flag false.
type Stats struct {
	Processes                   uint64 // the lines of cgroup.procs
	Memory, MemoryPeak, OOMKill uint64
	HasMemory, HasPeak, HasOOM  bool
}

// ReadStats reads the figures of the cgroup at dir.
func ReadStats(dir string) (Stats, error) {
	var s Stats
	num := func(name string) (uint64, bool) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return 0, false
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		return n, err == nil
	}
	// Processes, not tasks: pids.current counts threads.
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return s, err
	}
	s.Processes = uint64(len(strings.Fields(string(b))))
	s.Memory, s.HasMemory = num("memory.current")
	s.MemoryPeak, s.HasPeak = num("memory.peak")
	if b, err := os.ReadFile(filepath.Join(dir, "memory.events")); err == nil {
		s.OOMKill, s.HasOOM = field(b, "oom_kill")
	}
	return s, nil
}
