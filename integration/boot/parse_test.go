package boot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
)

// proc is one line of /proc/PID/stat.
type proc struct {
	pid, ppid, pgrp int
	comm            string
	state           string
	flags           uint64
	start           int64 // clock ticks since boot
}

const pfKthread = 0x00200000

func (p proc) kernelThread() bool { return p.flags&pfKthread != 0 || p.pid == 2 || p.ppid == 2 }

// parseStat parses a /proc/PID/stat line. The command name may hold
// blanks and parentheses: it ends at the last ')'.
func parseStat(line string) (proc, error) {
	var p proc
	open := strings.IndexByte(line, '(')
	end := strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return p, fmt.Errorf("bad stat line %q", line)
	}
	var err error
	if p.pid, err = strconv.Atoi(strings.TrimSpace(line[:open])); err != nil {
		return p, fmt.Errorf("bad stat line %q: %v", line, err)
	}
	p.comm = line[open+1 : end]
	f := strings.Fields(line[end+1:])
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return p, fmt.Errorf("short stat line %q", line)
	}
	p.state = f[0]
	if p.ppid, err = strconv.Atoi(f[1]); err != nil {
		return p, err
	}
	if p.pgrp, err = strconv.Atoi(f[2]); err != nil {
		return p, err
	}
	if p.flags, err = strconv.ParseUint(f[6], 10, 64); err != nil {
		return p, err
	}
	if p.start, err = strconv.ParseInt(f[19], 10, 64); err != nil {
		return p, err
	}
	return p, nil
}

// userHZ is the unit of /proc/PID/stat times (USER_HZ, 100 on x86).
const userHZ = 100

var dmesgTS = regexp.MustCompile(`\[\s*([0-9]+\.[0-9]+)\]`)

// dmesgTime returns the timestamp (seconds since boot) of the first
// kernel log line holding s.
func dmesgTime(out, s string) (float64, error) {
	for _, l := range strings.Split(out, "\n") {
		if !strings.Contains(l, s) {
			continue
		}
		m := dmesgTS.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		return strconv.ParseFloat(m[1], 64)
	}
	return 0, fmt.Errorf("no kernel log line with %q in:\n%s", s, out)
}

// labelTime parses a TAI64N label (@4000...).
func labelTime(l string) (time.Time, error) {
	s, err := tai64n.ParseLabel(strings.TrimSpace(l))
	if err != nil {
		return time.Time{}, err
	}
	return s.Time(), nil
}

// logLine finds the first line of a raw log (TAI64N-labelled lines)
// holding s and returns its time.
func logLine(log, s string) (time.Time, bool) {
	for _, l := range strings.Split(log, "\n") {
		if i := strings.IndexByte(l, ' '); i > 0 && strings.Contains(l[i:], s) {
			t, err := labelTime(l[:i])
			if err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
