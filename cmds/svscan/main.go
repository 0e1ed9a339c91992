// Command svscan supervises every service of a scan directory, as
// s6-svscan does, but in one process. See docs/svscan.md.
package main

import (
	"io"
	"math"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/svscan"
)

const usage = "usage: svscan [-B] [-C] [-t rescan_ms] [dir]"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	var (
		ms                  uint64
		noBackoff, noCgroup bool
	)
	g := getopt.New(args, "BCt:")
	for {
		c, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v; %s", err, usage)
		}
		if !ok {
			break
		}
		switch c {
		case 'B':
			noBackoff = true // no restart backoff: s6's rule
		case 'C':
			noCgroup = true // no cgroup per service: s6's behaviour
		case 't':
			if ms, err = getopt.ParseMillis(g.Arg); err != nil || ms > math.MaxUint32 {
				return cli.Usagef("-t %q: not a number of milliseconds; %s", g.Arg, usage)
			}
		}
	}
	dir := "."
	switch rest := g.Rest(); len(rest) {
	case 0:
	case 1:
		dir = rest[0]
	default:
		return cli.Usagef("%s", usage)
	}
	s, err := svscan.New(svscan.Options{Dir: dir, Poll: time.Duration(ms) * time.Millisecond, Stderr: stderr, NoBackoff: noBackoff, NoCgroup: noCgroup})
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	return s.Run()
}

func main() { cli.Main("svscan", run) }
