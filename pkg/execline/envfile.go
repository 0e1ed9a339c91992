package execline

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/svinit/svinit/pkg/cli"
)

// EnvfileError is a syntax error in an envfile.
type EnvfileError struct {
	Line int
	Msg  string
}

func (e *EnvfileError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// unescapeC decodes a C-style escape after a backslash at s[i] in an
// envfile's quoted string: \a \b \t \n \v \f \r, 1 to 3 octal digits
// (the low 8 bits of the value), \x and exactly 2 hex digits; any other
// character stands for itself. NUL may result (it ends the value).
func unescapeC(s []byte, i int) (out []byte, n int, msg string) {
	c := s[i]
	switch {
	case c >= '0' && c <= '7':
		j, v := i, 0
		for k := 0; k < 3 && j < len(s) && s[j] >= '0' && s[j] <= '7'; k++ {
			v = v*8 + int(s[j]-'0')
			j++
		}
		return []byte{byte(v)}, j - i, ""
	case c == 'x':
		if i+2 >= len(s) || hexval(s[i+1]) < 0 || hexval(s[i+2]) < 0 {
			return nil, 0, `invalid escape sequence: \x needs 2 hexadecimal digits`
		}
		return []byte{byte(hexval(s[i+1])*16 + hexval(s[i+2]))}, 3, ""
	case c == 0:
		return []byte{0}, 1, ""
	}
	if c >= '1' && c <= '9' {
		return []byte{c}, 1, ""
	}
	return unescape(s, i)
}

// ParseEnvfile parses execline's envfile format and returns the
// assignments in order. One assignment per line: optional blanks, a
// name (no blanks, '=', '\' or '"'), optional blanks, '=', optional
// blanks, a value. Empty lines and lines whose first non-blank character
// is '#' are ignored. In a value, "..." quotes a part (with C escape
// sequences, see unescapeC, and no raw newline), an unquoted backslash escapes a
// blank, '"' or '\' and joins the next line when it ends one, and
// unquoted trailing blanks are dropped. A NUL ends the value.
func ParseEnvfile(b []byte) ([][2]string, error) {
	var out [][2]string
	line := 1
	i := 0
	bad := func(format string, a ...any) error {
		return &EnvfileError{Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	for i < len(b) {
		for i < len(b) && isBlank(b[i]) {
			i++
		}
		if i >= len(b) {
			break
		}
		if b[i] == '\n' {
			line++
			i++
			continue
		}
		if b[i] == '#' {
			for i < len(b) && b[i] != '\n' {
				i++
			}
			continue
		}
		start := i
		for i < len(b) && !isBlank(b[i]) && b[i] != '\n' && b[i] != '=' {
			if b[i] == '\\' || b[i] == '"' || b[i] == 0 {
				return nil, bad("invalid character %q in variable name", b[i])
			}
			i++
		}
		name := string(b[start:i])
		for i < len(b) && isBlank(b[i]) {
			i++
		}
		if i >= len(b) || b[i] != '=' {
			return nil, bad("expected name=value")
		}
		if name == "" {
			return nil, bad("empty variable name")
		}
		i++
		for i < len(b) && isBlank(b[i]) {
			i++
		}
		var v []byte
		keep := 0 // length of v up to its last significant character
	value:
		for i < len(b) {
			c := b[i]
			switch {
			case c == '\n':
				break value
			case c == '"':
				i++
				for {
					if i >= len(b) || b[i] == '\n' {
						return nil, bad("unterminated string")
					}
					c := b[i]
					i++
					if c == '"' {
						break
					}
					if c != '\\' {
						v = append(v, c)
						continue
					}
					if i >= len(b) {
						return nil, bad("unterminated string")
					}
					if b[i] == '\n' {
						return nil, bad("newline in string")
					}
					o, n, msg := unescapeC(b, i)
					if msg != "" {
						return nil, bad("%s", msg)
					}
					v = append(v, o...)
					i += n
				}
				keep = len(v)
			case c == '\\':
				i++
				if i >= len(b) {
					return nil, bad("backslash at end of file")
				}
				switch b[i] {
				case '\n':
					line++
				case ' ', '\t', '"', '\\':
					v = append(v, b[i])
					keep = len(v)
				default:
					return nil, bad("invalid escape sequence \\%c outside quotes", b[i])
				}
				i++
			default:
				v = append(v, c)
				if !isBlank(c) {
					keep = len(v)
				}
				i++
			}
		}
		v = v[:keep]
		if k := strings.IndexByte(string(v), 0); k >= 0 {
			v = v[:k]
		}
		out = append(out, [2]string{name, string(v)})
	}
	return out, nil
}

const envfileUsage = "envfile [ -i | -I ] file prog..."

func envfile(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "iI")
	if !ok || len(rest) < 2 {
		return nil, usage(envfileUsage)
	}
	loose := false
	for _, o := range opts {
		loose = o.c == 'I'
	}
	file := rest[0]
	b, err := st.Sys.ReadFile(file, 0)
	if err != nil {
		if loose && errors.Is(err, syscall.ENOENT) {
			return rest[1:], nil
		}
		return nil, fmt.Errorf("%s: unable to read: %w", file, err)
	}
	kvs, err := ParseEnvfile(b)
	if err != nil {
		return nil, cli.Exitf(cli.ExitFalse, "%s: %v", file, err)
	}
	for _, kv := range kvs {
		st.Env.Set(kv[0], kv[1])
	}
	return rest[1:], nil
}

// EnvdirOptions are s6-envdir's options.
type EnvdirOptions struct {
	Loose    bool // -I: a missing directory is not an error
	NoChomp  bool // -n
	Verbatim bool // -f: whole file
	NoClamp  bool // -L: no size limit
	NullIs   byte // -c: what NUL becomes (default '\n')
}

// envdirClamp is how much of each file envdir reads without -L.
const envdirClamp = 4095

// EnvdirValue computes the value of a variable from its file's
// contents; ok false means "unset the variable" (empty file).
func EnvdirValue(b []byte, o EnvdirOptions) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	if o.Verbatim {
		if !o.NoChomp && b[len(b)-1] == '\n' {
			b = b[:len(b)-1]
		}
	} else {
		if k := strings.IndexByte(string(b), '\n'); k >= 0 {
			b = b[:k]
		}
		if !o.NoChomp {
			b = []byte(strings.TrimRight(string(b), " \t"))
		}
	}
	nul := o.NullIs
	if nul == 0 {
		nul = '\n'
	}
	return strings.ReplaceAll(string(b), "\x00", string(nul)), true
}

const envdirUsage = "envdir [ -I | -i ] [ -n ] [ -f ] [ -L ] [ -c nullchar ] dir prog..."

func envdir(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "IinfLc:")
	if !ok || len(rest) < 2 {
		return nil, usage(envdirUsage)
	}
	var o EnvdirOptions
	for _, x := range opts {
		switch x.c {
		case 'I':
			o.Loose = true
		case 'i':
			o.Loose = false
		case 'n':
			o.NoChomp = true
		case 'f':
			o.Verbatim = true
		case 'L':
			o.NoClamp = true
		case 'c':
			if x.arg != "" {
				o.NullIs = x.arg[0]
			}
		}
	}
	dir := rest[0]
	names, err := st.Sys.ReadDirNames(dir)
	if err != nil {
		if o.Loose && errors.Is(err, fs.ErrNotExist) {
			return rest[1:], nil
		}
		return nil, fmt.Errorf("%s: unable to read directory: %w", dir, err)
	}
	limit := envdirClamp
	if o.NoClamp {
		limit = 0
	}
	for _, n := range names {
		if n == "" || n[0] == '.' || strings.ContainsRune(n, '=') {
			continue
		}
		b, err := st.Sys.ReadFile(dir+"/"+n, limit)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: unable to read: %w", dir, n, err)
		}
		if v, set := EnvdirValue(b, o); set {
			st.Env.Set(n, v)
		} else {
			st.Env.Unset(n)
		}
	}
	return rest[1:], nil
}
