// Package kcmdline splits a Linux kernel command line into parameters
// the way the kernel does, for the few programs that read /proc/cmdline.
// What the parameters mean is their readers' business: svinit's own in
// pkg/bootfs, module options in pkg/kmod.
package kcmdline

import "strings"

// Split splits a kernel command line into parameters the way the
// kernel does: on blanks, with double quotes grouping blanks into one
// parameter (the quotes themselves are dropped). Parameters after a lone
// "--" belong to init's argv and are not returned.
func Split(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			if have {
				if cur.String() == "--" {
					return out
				}
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have && cur.String() != "--" {
		out = append(out, cur.String())
	}
	return out
}
