package svclient

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/cgroup"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
)

// View is what svstat prints: one status file seen at one moment.
type View struct {
	Status     servicedir.Status
	NormallyUp bool         // no ./down file
	Now        tai64n.Stamp // the moment "N seconds" are counted to
	// Pgid is the process group of the supervised process while it is
	// up, printed by the pgid field (see ProcPgid). Zero means "same as
	// the pid".
	Pgid int64
	// Restart is svinit's supervise/svinit-restart (ReadRestart), nil
	// when there is none (an s6 supervisor, or nothing to say yet).
	Restart *servicedir.Restart
	// Cgroup is the service's cgroup (ReadCgroup), nil when it has none.
	Cgroup *Cgroup
}

// NewView builds a View. As s6-svstat does, an up/down stamp in the
// future (a clock that went back) is taken to be now.
func NewView(st servicedir.Status, normallyUp bool, now tai64n.Stamp) *View {
	if bytes.Compare(st.Stamp[:], now[:]) > 0 {
		st.Stamp = now
	}
	return &View{Status: st, NormallyUp: normallyUp, Now: now}
}

// Pid returns the pid as s6 sees it: the low 32 bits of the stored
// value, as a signed number (s6 keeps it in a pid_t).
func (v *View) Pid() int32 { return int32(uint32(v.Status.Pid)) }

// Up reports whether the service is up: a process exists and it is not
// ./finish.
func (v *View) Up() bool { return v.Pid() != 0 && !v.Status.Finishing }

// wait status decoding, as the C macros do it on Linux.
func (v *View) termsig() int    { return int(v.Status.Wstat & 0x7f) }
func (v *View) signaled() bool  { s := v.termsig(); return s != 0 && s != 0x7f }
func (v *View) exited() bool    { return v.termsig() == 0 }
func (v *View) exitstatus() int { return int(v.Status.Wstat>>8) & 0xff }

// ExitCode is the exitcode field: the exit code of the last run if it
// exited normally and the service is down, else -1.
func (v *View) ExitCode() int {
	if v.Up() || !v.exited() {
		return -1
	}
	return v.exitstatus()
}

// Signum is the signum field: the signal that killed the last run if
// the service is down, else -1.
func (v *View) Signum() int {
	if v.Up() || !v.signaled() {
		return -1
	}
	return v.termsig()
}

// Seconds returns the whole seconds elapsed from then to now, 0 if then
// is in the future.
func Seconds(now, then tai64n.Stamp) uint64 {
	if bytes.Compare(then[:], now[:]) >= 0 {
		return 0
	}
	ns := binary.BigEndian.Uint64(now[:8])
	ts := binary.BigEndian.Uint64(then[:8])
	d := ns - ts
	if binary.BigEndian.Uint32(now[8:]) < binary.BigEndian.Uint32(then[8:]) {
		d--
	}
	return d
}

var sigNames = [...]string{
	1: "HUP", 2: "INT", 3: "QUIT", 4: "ILL", 5: "TRAP", 6: "ABRT", 7: "BUS", 8: "FPE",
	9: "KILL", 10: "USR1", 11: "SEGV", 12: "USR2", 13: "PIPE", 14: "ALRM", 15: "TERM",
	16: "STKFLT", 17: "CHLD", 18: "CONT", 19: "STOP", 20: "TSTP", 21: "TTIN", 22: "TTOU",
	23: "URG", 24: "XCPU", 25: "XFSZ", 26: "VTALRM", 27: "PROF", 28: "WINCH", 29: "POLL",
	30: "PWR", 31: "SYS",
}

// SignalName returns "SIG" + the name of signal n as s6 prints it on
// Linux, "SIG???" for numbers it has no name for.
func SignalName(n int) string {
	if n > 0 && n < len(sigNames) {
		return "SIG" + sigNames[n]
	}
	return "SIG???"
}

// Human formats the one-line summary s6-svstat prints without options,
// without the final newline. numeric prints a killing signal's number
// instead of its name.
func Human(v *View, numeric bool) string {
	b := make([]byte, 0, 96)
	up := v.Up()
	st := &v.Status
	if up {
		b = append(b, "up (pid "...)
		b = strconv.AppendInt(b, int64(v.Pid()), 10)
		b = append(b, ") "...)
	} else {
		b = append(b, "down ("...)
		if v.signaled() {
			b = append(b, "signal "...)
			if numeric {
				b = strconv.AppendInt(b, int64(v.termsig()), 10)
			} else {
				b = append(b, SignalName(v.termsig())...)
			}
		} else {
			b = append(b, "exitcode "...)
			b = strconv.AppendInt(b, int64(v.exitstatus()), 10)
		}
		b = append(b, ") "...)
	}
	b = strconv.AppendUint(b, Seconds(v.Now, st.Stamp), 10)
	b = append(b, " seconds"...)
	if up && !v.NormallyUp {
		b = append(b, ", normally down"...)
	}
	if !up && v.NormallyUp {
		b = append(b, ", normally up"...)
	}
	if up && st.Paused {
		b = append(b, ", paused"...)
	}
	if !up && st.WantUp {
		b = append(b, ", want up"...)
	}
	if up && !st.WantUp {
		b = append(b, ", want down"...)
	}
	if st.Ready {
		b = append(b, ", ready "...)
		b = strconv.AppendUint(b, Seconds(v.Now, st.ReadyStamp), 10)
		b = append(b, " seconds"...)
	}
	b = appendRestart(b, v)
	if c := v.Cgroup; c != nil && c.Stats.OOMKill > 0 {
		// Only then: the line stays s6-svstat's otherwise.
		b = append(b, ", OOM kills "...)
		b = strconv.AppendUint(b, c.Stats.OOMKill, 10)
	}
	return string(b)
}

// appendRestart adds svinit's restart state to the summary line, only
// when it has something to say (a crash loop, a start due, a permanent
// failure), so that the line stays s6-svstat's otherwise:
// ", restarts R (S in a row), delay D ms, next start in N ms" and
// ", permanent failure".
func appendRestart(b []byte, v *View) []byte {
	r := v.Restart
	if r == nil || r.Streak == 0 && !r.PermFail && (v.Up() || !r.Due()) {
		return b
	}
	b = append(b, ", restarts "...)
	b = strconv.AppendUint(b, uint64(r.Restarts), 10)
	b = append(b, " ("...)
	b = strconv.AppendUint(b, uint64(r.Streak), 10)
	b = append(b, " in a row), delay "...)
	b = strconv.AppendInt(b, r.Delay.Milliseconds(), 10)
	b = append(b, " ms"...)
	if n := v.NextStartIn(); n >= 0 {
		b = append(b, ", next start in "...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, " ms"...)
	}
	if r.PermFail {
		b = append(b, ", permanent failure"...)
	}
	return b
}

// NextStartIn is the nextstartin field: milliseconds until the next
// automatic start (0 if overdue), -1 if none is due or the service is
// up, or there is no svinit-restart file.
func (v *View) NextStartIn() int64 {
	r := v.Restart
	if r == nil || !r.Due() || v.Up() {
		return -1
	}
	return max(0, r.Next.Time().Sub(v.Now.Time()).Milliseconds())
}

// Field is one svstat -o field.
type Field struct {
	Name   string
	format func(b []byte, v *View) []byte
}

func boolField(b []byte, t bool) []byte {
	if t {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// fields is in s6-svstat's order, which matters: a field name given on
// the command line may be abbreviated to any prefix, and the first field
// (in this order) it is a prefix of wins. pgid and the restart fields,
// our additions, come last so they change no abbreviation s6 accepts.
var fields = [...]Field{
	{"up", func(b []byte, v *View) []byte { return boolField(b, v.Up()) }},
	{"wantedup", func(b []byte, v *View) []byte { return boolField(b, v.Status.WantUp) }},
	{"normallyup", func(b []byte, v *View) []byte { return boolField(b, v.NormallyUp) }},
	{"ready", func(b []byte, v *View) []byte { return boolField(b, v.Pid() != 0 && v.Status.Ready) }},
	{"paused", func(b []byte, v *View) []byte { return boolField(b, v.Status.Paused) }},
	{"pid", func(b []byte, v *View) []byte {
		if !v.Up() {
			return append(b, "-1"...)
		}
		return strconv.AppendInt(b, int64(v.Pid()), 10)
	}},
	{"exitcode", func(b []byte, v *View) []byte { return strconv.AppendInt(b, int64(v.ExitCode()), 10) }},
	{"signal", func(b []byte, v *View) []byte {
		if n := v.Signum(); n >= 0 {
			return append(b, SignalName(n)...)
		}
		return append(b, "NA"...)
	}},
	{"signum", func(b []byte, v *View) []byte { return strconv.AppendInt(b, int64(v.Signum()), 10) }},
	{"updownsince", func(b []byte, v *View) []byte { return v.Status.Stamp.AppendLabel(b) }},
	{"readysince", func(b []byte, v *View) []byte { return v.Status.ReadyStamp.AppendLabel(b) }},
	{"updownfor", func(b []byte, v *View) []byte { return strconv.AppendUint(b, Seconds(v.Now, v.Status.Stamp), 10) }},
	{"readyfor", func(b []byte, v *View) []byte { return strconv.AppendUint(b, Seconds(v.Now, v.Status.ReadyStamp), 10) }},
	{"pgid", func(b []byte, v *View) []byte {
		if !v.Up() {
			return append(b, "-1"...)
		}
		if v.Pgid != 0 {
			return strconv.AppendInt(b, v.Pgid, 10)
		}
		return strconv.AppendInt(b, int64(v.Pid()), 10)
	}},
	// svinit's restart backoff (supervise/svinit-restart); -1 or false
	// without that file.
	{"restarts", func(b []byte, v *View) []byte {
		if v.Restart == nil {
			return append(b, "-1"...)
		}
		return strconv.AppendUint(b, uint64(v.Restart.Restarts), 10)
	}},
	{"restartdelay", func(b []byte, v *View) []byte {
		if v.Restart == nil {
			return append(b, "-1"...)
		}
		return strconv.AppendInt(b, v.Restart.Delay.Milliseconds(), 10)
	}},
	{"nextstartin", func(b []byte, v *View) []byte { return strconv.AppendInt(b, v.NextStartIn(), 10) }},
	{"permfailed", func(b []byte, v *View) []byte { return boolField(b, v.Restart != nil && v.Restart.PermFail) }},
	// svinit's cgroup per service (supervise/svinit-cgroup): NA or -1
	// without one, or without the controller that gives the figure.
	{"cgroup", func(b []byte, v *View) []byte {
		if v.Cgroup == nil {
			return append(b, "NA"...)
		}
		return append(b, v.Cgroup.Path...)
	}},
	{"processes", func(b []byte, v *View) []byte {
		return cgroupFigure(b, v, func(s *cgroup.Stats) (uint64, bool) { return s.Processes, true })
	}},
	{"memory", func(b []byte, v *View) []byte {
		return cgroupFigure(b, v, func(s *cgroup.Stats) (uint64, bool) { return s.Memory, s.HasMemory })
	}},
	{"memorypeak", func(b []byte, v *View) []byte {
		return cgroupFigure(b, v, func(s *cgroup.Stats) (uint64, bool) { return s.MemoryPeak, s.HasPeak })
	}},
	{"oomkills", func(b []byte, v *View) []byte {
		return cgroupFigure(b, v, func(s *cgroup.Stats) (uint64, bool) { return s.OOMKill, s.HasOOM })
	}},
}

// cgroupFigure appends one figure of the service's cgroup, -1 if there is
// no cgroup or no such figure.
func cgroupFigure(b []byte, v *View, get func(*cgroup.Stats) (uint64, bool)) []byte {
	if v.Cgroup == nil {
		return append(b, "-1"...)
	}
	n, ok := get(&v.Cgroup.Stats)
	if !ok {
		return append(b, "-1"...)
	}
	return strconv.AppendUint(b, n, 10)
}

// FieldNames lists the -o field names in order.
func FieldNames() []string {
	n := make([]string, len(fields))
	for i := range fields {
		n[i] = fields[i].Name
	}
	return n
}

// LookupField finds the field named name or, as s6-svstat allows, the
// first field name that name is a prefix of.
func LookupField(name string) (Field, bool) {
	if name == "" {
		return Field{}, false
	}
	for _, f := range fields {
		if strings.HasPrefix(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// ParseFields parses a comma-separated -o list. An empty element is an
// error except at the very end ("up," is "up"); an empty list yields no
// fields.
func ParseFields(spec string) ([]Field, error) {
	var out []Field
	for spec != "" {
		name, rest, found := strings.Cut(spec, ",")
		if name == "" {
			return nil, fmt.Errorf("empty field name in %q", spec)
		}
		f, ok := LookupField(name)
		if !ok {
			return nil, fmt.Errorf("unknown field %q (known: %s)", name, strings.Join(FieldNames(), ","))
		}
		out = append(out, f)
		if !found {
			break
		}
		spec = rest
	}
	return out, nil
}

// Format prints the given fields separated by single spaces, without
// the final newline.
func Format(fs []Field, v *View) string {
	b := make([]byte, 0, 16*len(fs))
	for i, f := range fs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = f.format(b, v)
	}
	return string(b)
}

// NeedsPgid reports whether fs contains the pgid field.
func NeedsPgid(fs []Field) bool {
	for _, f := range fs {
		if f.Name == "pgid" {
			return true
		}
	}
	return false
}

// ProcPgid returns the process group of pid from /proc/PID/stat, or
// false if it cannot be read (no /proc, process gone, another pid
// namespace).
func ProcPgid(pid int32) (int64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseStatPgid(b)
}

// parseStatPgid extracts field 5 (pgrp) of a /proc/PID/stat line. The
// command name (field 2) is in parentheses and may itself contain
// spaces and parentheses, so parsing starts after the last ')'.
func parseStatPgid(b []byte) (int64, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
