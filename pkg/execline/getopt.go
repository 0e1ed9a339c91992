package execline

import getoptpkg "github.com/svinit/svinit/pkg/getopt"

// opt is one parsed option: its letter and, for options taking one, the
// argument.
type opt struct {
	c   byte
	arg string
}

// getopt parses the options of args (args[0] is the program name) with
// getopt.Getopt, skarnet's rules: spec lists the letters, a letter
// followed by ':' takes an argument. It returns the options in order and
// the remaining words, or the offending letter on error.
func getopt(args []string, spec string) (opts []opt, rest []string, bad byte, ok bool) {
	if len(args) == 0 {
		return nil, nil, 0, true
	}
	g := getoptpkg.New(args[1:], spec)
	for {
		c, more, err := g.Next()
		if err != nil {
			return nil, nil, c, false
		}
		if !more {
			return opts, g.Rest(), 0, true
		}
		opts = append(opts, opt{c, g.Arg})
	}
}
