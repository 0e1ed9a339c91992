// Package getopt scans command-line options the way skarnet's tools do.
// It is the one option parser of svinit: the s6 tools, the execline
// programs and svlog all use it.
package getopt

import "fmt"

// Getopt is a small POSIX-style option scanner with the behaviour of
// skarnet's subgetopt, which s6's tools use: options may be clustered
// ("-wu", "-uwN"), an option taking an argument uses the rest of its
// cluster or else the next argument ("-T500", "-T 500"), "--" ends the
// options and is dropped, and the first argument that does not start
// with '-' (or is "-" alone) ends the options and is kept. Arguments are
// never permuted.
type Getopt struct {
	// Optstring lists the option characters; a character followed by
	// ':' takes an argument.
	Optstring string
	// Arg is the argument of the option last returned by Next.
	Arg string

	args []string
	ind  int // index of the argument being scanned
	pos  int // position inside args[ind]; 0 means "start a new one"
}

// New scans args (without the program name) for the options in
// optstring.
func New(args []string, optstring string) *Getopt {
	return &Getopt{Optstring: optstring, args: args}
}

// Next returns the next option character, or ok == false when the
// options are over. An unknown option or a missing argument returns an
// error naming it; scanning may not be continued after an error.
func (g *Getopt) Next() (opt byte, ok bool, err error) {
	g.Arg = ""
	if g.pos == 0 {
		if g.ind >= len(g.args) {
			return 0, false, nil
		}
		a := g.args[g.ind]
		if len(a) < 2 || a[0] != '-' {
			return 0, false, nil
		}
		if a == "--" {
			g.ind++
			return 0, false, nil
		}
		g.pos = 1
	}
	a := g.args[g.ind]
	c := a[g.pos]
	g.pos++
	i := indexByte(g.Optstring, c)
	if i < 0 || c == ':' {
		return c, true, fmt.Errorf("unknown option -%s", printable(c))
	}
	if i+1 < len(g.Optstring) && g.Optstring[i+1] == ':' {
		if g.pos < len(a) {
			g.Arg = a[g.pos:]
		} else if g.ind+1 < len(g.args) {
			g.ind++
			g.Arg = g.args[g.ind]
		} else {
			return c, true, fmt.Errorf("option -%c needs an argument", c)
		}
		g.ind++
		g.pos = 0
		return c, true, nil
	}
	if g.pos >= len(a) {
		g.ind++
		g.pos = 0
	}
	return c, true, nil
}

// Rest returns the arguments left after the options.
func (g *Getopt) Rest() []string {
	if g.ind > len(g.args) {
		return nil
	}
	return g.args[g.ind:]
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func printable(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf("\\x%02x", c)
}

// ParseMillis parses a timeout option: a decimal number of
// milliseconds, digits only (0 means no timeout to the tools).
func ParseMillis(s string) (uint64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty timeout")
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number of milliseconds", s)
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<32-1 {
			return 0, fmt.Errorf("%q milliseconds: too large", s)
		}
	}
	return n, nil
}
