package execline

import "strings"

// opt is one parsed option: its letter and, for options taking one, the
// argument.
type opt struct {
	c   byte
	arg string
}

// getopt parses s6-style short options from args (args[0] is the
// program name): combined letters ("-wnb"), arguments glued or in the
// next word ("-S3", "-S 3"), "--" ends the options, and so does the first
// word not starting with '-' or being exactly "-". spec lists the letters;
// a letter followed by ':' takes an argument. It returns the options in
// order and the remaining words, or the offending letter on error.
func getopt(args []string, spec string) (opts []opt, rest []string, bad byte, ok bool) {
	if len(args) == 0 {
		return nil, nil, 0, true
	}
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			break
		}
		if len(a) < 2 || a[0] != '-' {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(spec, c)
			if k < 0 || c == ':' {
				return nil, nil, c, false
			}
			if k+1 < len(spec) && spec[k+1] == ':' {
				if j+1 < len(a) {
					opts = append(opts, opt{c, a[j+1:]})
				} else {
					if i+1 >= len(args) {
						return nil, nil, c, false
					}
					i++
					opts = append(opts, opt{c, args[i]})
				}
				break
			}
			opts = append(opts, opt{c: c})
		}
	}
	return opts, args[i:], 0, true
}
