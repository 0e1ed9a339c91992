// Package execline implements the execline scripting language the way
// svinit's service scripts use it: the execlineb parser (words, quoted
// strings, comments, { } blocks), positional parameter handling, and the
// chain-loaders (redirfd, fdmove, export, envdir, setuidgid, foreground,
// if, ...) as functions that change the current process state and hand
// the rest of the command line on. A chain of built-ins runs inside one
// process and ends with a real execve, so a supervisor's child pid is
// the daemon's pid.
package execline

import (
	"fmt"
	"strings"
)

// SyntaxError is a parse error in a script, located by line and word.
type SyntaxError struct {
	File string // script name as given to execlineb, or "-c script"
	Line int    // 1-based line of the word
	Word int    // 1-based index of the word on that line
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: line %d, word %d: %s", e.File, e.Line, e.Word, e.Msg)
}

// isSpace reports whether c separates words: like execline, every
// control character from 1 to 31 and the space.
func isSpace(c byte) bool { return c >= 1 && c <= ' ' }

// Parse turns an execline script into an argv. Blocks are encoded as
// execline encodes them: every word inside a block gets one leading
// space per nesting level, and each block ends with an empty word (with
// the leading spaces of its enclosing level).
func Parse(file string, script []byte) ([]string, error) {
	argv, _, err := ParsePos(file, script)
	return argv, err
}

// Pos is where a word of a script starts: 1-based line, and 1-based
// index of the word on that line. The empty word ending a block is at
// its "}".
type Pos struct{ Line, Word int }

// ParsePos is Parse that also returns the position of every word of the
// argv, for error messages.
func ParsePos(file string, script []byte) ([]string, []Pos, error) {
	p := parser{file: file, s: script, line: 1}
	return p.parse()
}

type parser struct {
	file string
	s    []byte
	i    int
	line int
	word int // words started on the current line
}

func (p *parser) errAt(line, word int, format string, a ...any) error {
	return &SyntaxError{File: p.file, Line: line, Word: word, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) parse() ([]string, []Pos, error) {
	var argv []string
	var pos []Pos
	type open struct{ line, word int }
	var stack []open
	for {
		// skip blanks
		for p.i < len(p.s) && isSpace(p.s[p.i]) {
			if p.s[p.i] == '\n' {
				p.line++
				p.word = 0
			}
			p.i++
		}
		if p.i >= len(p.s) {
			break
		}
		if p.s[p.i] == '#' {
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
			continue
		}
		if p.s[p.i] == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
			// A backslash-newline where a word would start continues
			// the line: it separates words like a blank (as execline
			// does); inside a word it is an escaped newline.
			p.i += 2
			p.line++
			p.word = 0
			continue
		}
		p.word++
		line, word := p.line, p.word
		w, quoted, err := p.lexWord()
		if err != nil {
			return nil, nil, err
		}
		if !quoted && w == "{" {
			stack = append(stack, open{line, word})
			continue
		}
		if !quoted && w == "}" {
			if len(stack) == 0 {
				return nil, nil, p.errAt(line, word, "unmatched }")
			}
			stack = stack[:len(stack)-1]
			argv = append(argv, strings.Repeat(" ", len(stack)))
			pos = append(pos, Pos{line, word})
			continue
		}
		argv = append(argv, strings.Repeat(" ", len(stack))+w)
		pos = append(pos, Pos{line, word})
	}
	if len(stack) > 0 {
		o := stack[len(stack)-1]
		return nil, nil, p.errAt(o.line, o.word, "unmatched {")
	}
	return argv, pos, nil
}

// lexWord reads one word starting at p.i. quoted reports whether any
// part of it was quoted or escaped (so "{" and \{ are plain words).
func (p *parser) lexWord() (string, bool, error) {
	line, word := p.line, p.word
	var b []byte
	quoted := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case isSpace(c):
			return string(b), quoted, nil
		case c == 0:
			return "", false, p.errAt(p.line, word, "NUL character in script")
		case c == '\\':
			quoted = true
			p.i++
			if p.i >= len(p.s) {
				return "", false, p.errAt(line, word, "backslash at end of script")
			}
			c = p.s[p.i]
			if c == 0 {
				return "", false, p.errAt(p.line, word, "NUL character in script")
			}
			if c == '\n' {
				p.line++
			}
			b = append(b, c)
			p.i++
		case c == '"':
			quoted = true
			p.i++
			var err error
			b, err = p.lexString(b, line, word)
			if err != nil {
				return "", false, err
			}
		default:
			b = append(b, c)
			p.i++
		}
	}
	return string(b), quoted, nil
}

// lexString reads a double-quoted string after its opening quote.
func (p *parser) lexString(b []byte, line, word int) ([]byte, error) {
	for {
		if p.i >= len(p.s) {
			return nil, p.errAt(line, word, "unterminated string")
		}
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b, nil
		case 0:
			return nil, p.errAt(p.line, word, "NUL character in script")
		case '\n':
			p.line++
			b = append(b, c)
		case '\\':
			if p.i >= len(p.s) {
				return nil, p.errAt(line, word, "unterminated string")
			}
			var err error
			b, err = p.escape(b, word)
			if err != nil {
				return nil, err
			}
		default:
			b = append(b, c)
		}
	}
}

// unescape decodes the escape after a backslash at s[i] inside a quoted
// string; it returns the byte(s) to append (nil for a line continuation),
// the bytes consumed, and an error message. Shared with envfile.
func unescape(s []byte, i int) (out []byte, n int, msg string) {
	c := s[i]
	switch c {
	case 0:
		return nil, 0, "NUL character in script"
	case 'a':
		return []byte{7}, 1, ""
	case 'b':
		return []byte{8}, 1, ""
	case 't':
		return []byte{9}, 1, ""
	case 'n':
		return []byte{10}, 1, ""
	case 'v':
		return []byte{11}, 1, ""
	case 'f':
		return []byte{12}, 1, ""
	case 'r':
		return []byte{13}, 1, ""
	case '\n':
		return nil, 1, ""
	case '0':
		j := i + 1
		v := 0
		if j < len(s) && s[j] == 'x' {
			j++
			k := 0
			for ; k < 2 && j < len(s) && hexval(s[j]) >= 0; k++ {
				v = v*16 + hexval(s[j])
				j++
			}
			if k == 0 {
				return nil, 0, `invalid escape sequence: \0x needs hexadecimal digits`
			}
		} else {
			k := 0
			for ; k < 3 && j < len(s) && s[j] >= '0' && s[j] <= '7'; k++ {
				v = v*8 + int(s[j]-'0')
				j++
			}
			if k == 0 {
				return nil, 0, `invalid escape sequence: \0 needs octal digits or x`
			}
		}
		if v == 0 || v > 255 {
			return nil, 0, fmt.Sprintf("invalid escape sequence: character code %d out of range 1-255", v)
		}
		return []byte{byte(v)}, j - i, ""
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		j := i
		v := 0
		for k := 0; k < 3 && j < len(s) && s[j] >= '0' && s[j] <= '9'; k++ {
			v = v*10 + int(s[j]-'0')
			j++
		}
		if v > 255 {
			return nil, 0, fmt.Sprintf("invalid escape sequence: character code %d out of range 1-255", v)
		}
		return []byte{byte(v)}, j - i, ""
	}
	return []byte{c}, 1, ""
}

func (p *parser) escape(b []byte, word int) ([]byte, error) {
	out, n, msg := unescape(p.s, p.i)
	if msg != "" {
		return nil, p.errAt(p.line, word, "%s", msg)
	}
	if p.s[p.i] == '\n' {
		p.line++
	}
	p.i += n
	return append(b, out...), nil
}

func hexval(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
