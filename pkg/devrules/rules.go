// Package devrules parses and applies /etc/ueventd.rules: lines of
// KEY==glob / KEY!=glob conditions on a uevent's environment followed by
// actions on the device (mode, owner, group, symlink, run). The syntax
// is documented in docs/ueventd.md.
package devrules

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/kmod"
)

// Cond is one condition: the event's value for Key (empty when absent)
// must match (or, with Negate, must not match) the fnmatch glob Pattern.
type Cond struct {
	Key     string
	Pattern string
	Negate  bool
}

// Rule is one parsed line.
type Rule struct {
	Line     int
	Conds    []Cond
	Mode     int // -1 when not set
	UID      int // -1 when not set
	GID      int // -1 when not set
	Symlinks []string
	Run      []string // argv template; nil when no run=
	Last     bool
}

// Matches reports whether every condition holds for env.
func (r *Rule) Matches(env map[string]string) bool {
	for _, c := range r.Conds {
		if kmod.Match(c.Pattern, env[c.Key]) == c.Negate {
			return false
		}
	}
	return true
}

// LineError is a rule that could not be parsed.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s: line %d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Options for Parse.
type Options struct {
	File string // names the file in errors
	// LookupUser and LookupGroup resolve owner= and group= names; nil
	// means only numeric ids are accepted.
	LookupUser  func(name string) (int, error)
	LookupGroup func(name string) (int, error)
}

// Parse reads a rules file. Every line that parses is returned; each bad
// line gives a *LineError in errs and is left out, so the other rules
// still apply. A read error is reported last in errs.
func Parse(r io.Reader, o Options) (rules []Rule, errs []error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		rule, ok, err := parseLine(sc.Text(), n, o)
		if err != nil {
			errs = append(errs, &LineError{File: o.File, Line: n, Err: err})
			continue
		}
		if ok {
			rules = append(rules, rule)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, &LineError{File: o.File, Line: n + 1, Err: err})
	}
	return rules, errs
}

// ParseFile parses the rules file at path; a missing file means no rules.
func ParseFile(path string, o Options) ([]Rule, []error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, []error{err}
	}
	defer f.Close()
	o.File = path
	return Parse(f, o)
}

func isKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func parseLine(line string, n int, o Options) (Rule, bool, error) {
	rule := Rule{Line: n, Mode: -1, UID: -1, GID: -1}
	s := line
	sawAction := false
	for {
		s = strings.TrimLeft(s, " \t\r")
		if s == "" || s[0] == '#' {
			break
		}
		if s == "last" || strings.HasPrefix(s, "last ") || strings.HasPrefix(s, "last\t") {
			rule.Last = true
			sawAction = true
			s = s[4:]
			continue
		}
		// KEY then operator.
		i := 0
		for i < len(s) && s[i] != '=' && s[i] != '!' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[:i]
		rest := s[i:]
		var op string
		switch {
		case strings.HasPrefix(rest, "=="):
			op = "=="
		case strings.HasPrefix(rest, "!="):
			op = "!="
		case strings.HasPrefix(rest, "="):
			op = "="
		default:
			return rule, false, fmt.Errorf("%q: expected KEY==glob, KEY!=glob or action=value", clip(firstWord(s)))
		}
		if !isKey(key) {
			return rule, false, fmt.Errorf("%q: bad key (letters, digits and _ only)", clip(key))
		}
		rest = rest[len(op):]
		if op == "=" && key == "run" {
			cmd := strings.TrimSpace(rest)
			if len(cmd) >= 2 && cmd[0] == '"' && cmd[len(cmd)-1] == '"' && !strings.Contains(cmd[1:len(cmd)-1], `"`) {
				cmd = cmd[1 : len(cmd)-1]
			}
			argv, err := splitWords(cmd)
			if err != nil {
				return rule, false, fmt.Errorf("run: %v", err)
			}
			if len(argv) == 0 {
				return rule, false, errors.New("run: empty command")
			}
			rule.Run = argv
			sawAction = true
			break
		}
		val, after, err := value(rest)
		if err != nil {
			return rule, false, fmt.Errorf("%s: %v", key, err)
		}
		s = after
		if op != "=" {
			rule.Conds = append(rule.Conds, Cond{Key: key, Pattern: val, Negate: op == "!="})
			continue
		}
		sawAction = true
		switch key {
		case "mode":
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 0o7777 {
				return rule, false, fmt.Errorf("mode=%s: want an octal mode like 0660", clip(val))
			}
			rule.Mode = int(m)
		case "owner":
			id, err := resolve(val, o.LookupUser, "user")
			if err != nil {
				return rule, false, fmt.Errorf("owner=%s: %v", clip(val), err)
			}
			rule.UID = id
		case "group":
			id, err := resolve(val, o.LookupGroup, "group")
			if err != nil {
				return rule, false, fmt.Errorf("group=%s: %v", clip(val), err)
			}
			rule.GID = id
		case "symlink":
			if val == "" || strings.HasPrefix(val, "/") {
				return rule, false, fmt.Errorf("symlink=%s: want a path relative to /dev", clip(val))
			}
			rule.Symlinks = append(rule.Symlinks, val)
		default:
			if strings.ToUpper(key) == key {
				return rule, false, fmt.Errorf("%s=%s: a condition needs == or != (actions are lower case: mode owner group symlink run last)", clip(key), clip(val))
			}
			return rule, false, fmt.Errorf("unknown action %q (known: mode owner group symlink run last)", clip(key))
		}
	}
	if len(rule.Conds) == 0 && !sawAction {
		return rule, false, nil // blank or comment
	}
	if !sawAction {
		return rule, false, errors.New("rule has conditions but no action")
	}
	return rule, true, nil
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i]
	}
	return s
}

// value reads a bare word or a double-quoted string (with \" and \\) and
// returns it and the rest of the line.
func value(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			return s, "", nil
		}
		return s[:i], s[i:], nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
			b.WriteByte(s[i+1])
			i++
		case c == '"':
			if i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t' {
				return "", "", errors.New("closing quote must be followed by a space")
			}
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quote")
}

// splitWords splits a command line into words: whitespace separates,
// '...' quotes literally, "..." quotes with \" and \\ escapes, and a
// backslash outside quotes escapes the next byte.
func splitWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	have := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			have = true
		case c == '"':
			have = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated \" quote")
			}
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			have = true
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out, nil
}

func resolve(v string, lookup func(string) (int, error), what string) (int, error) {
	if n, err := strconv.ParseUint(v, 10, 31); err == nil {
		return int(n), nil
	}
	if lookup == nil {
		return -1, fmt.Errorf("no %s database: use a number", what)
	}
	return lookup(v)
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Result is what the matching rules ask for one event.
type Result struct {
	Mode     int // -1: leave as is
	UID, GID int // -1: leave as is
	Symlinks []string
	Run      [][]string
	Lines    []int // the lines of the rules that matched
}

// Apply runs env through rules in order. Every matching rule applies:
// mode, owner and group of a later rule override earlier ones, symlinks
// and commands accumulate; a matching rule with "last" ends the walk.
// $KEY and ${KEY} in symlink paths and run words are replaced by the
// event's values ($$ is a literal $).
func Apply(rules []Rule, env map[string]string) Result {
	res := Result{Mode: -1, UID: -1, GID: -1}
	for i := range rules {
		r := &rules[i]
		if !r.Matches(env) {
			continue
		}
		res.Lines = append(res.Lines, r.Line)
		if r.Mode >= 0 {
			res.Mode = r.Mode
		}
		if r.UID >= 0 {
			res.UID = r.UID
		}
		if r.GID >= 0 {
			res.GID = r.GID
		}
		for _, s := range r.Symlinks {
			res.Symlinks = append(res.Symlinks, Expand(s, env))
		}
		if r.Run != nil {
			argv := make([]string, len(r.Run))
			for j, w := range r.Run {
				argv[j] = Expand(w, env)
			}
			res.Run = append(res.Run, argv)
		}
		if r.Last {
			break
		}
	}
	return res
}

// Expand replaces $KEY, ${KEY} and $$ in s from env (absent keys expand
// to nothing). A "$" not followed by a key, "{" or "$" stays as is.
func Expand(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; {
		case c == '$':
			b.WriteByte('$')
			i++
		case c == '{':
			j := strings.IndexByte(s[i+2:], '}')
			if j < 0 || !isKey(s[i+2:i+2+j]) {
				b.WriteByte('$')
				continue
			}
			b.WriteString(env[s[i+2:i+2+j]])
			i += j + 2
		default:
			j := i + 1
			for j < len(s) && isKey(s[j:j+1]) {
				j++
			}
			if j == i+1 {
				b.WriteByte('$')
				continue
			}
			b.WriteString(env[s[i+1:j]])
			i = j - 1
		}
	}
	return b.String()
}

// LookupID finds name in a passwd- or group-format file (name:x:id:...)
// and returns its numeric id.
func LookupID(file, name string) (int, error) {
	f, err := os.Open(file)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 3 && fields[0] == name {
			id, err := strconv.Atoi(fields[2])
			if err != nil || id < 0 {
				return -1, fmt.Errorf("%s: bad id %q for %s", file, fields[2], name)
			}
			return id, nil
		}
	}
	if err := sc.Err(); err != nil {
		return -1, err
	}
	return -1, fmt.Errorf("%s: no entry for %q", file, name)
}
