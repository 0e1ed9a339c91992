// Command svscan supervises every service of a scan directory, as
// s6-svscan does, but in one process. See docs/svscan.md.
package main

import (
	"flag"
	"io"
	"strconv"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/svscan"
)

const usage = "usage: svscan [-B] [-C] [-t rescan_ms] [dir]"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("svscan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	poll := fs.String("t", "0", "rescan period in milliseconds (0: scan only on demand)")
	noBackoff := fs.Bool("B", false, "no restart backoff: s6's restart rule for every service")
	noCgroup := fs.Bool("C", false, "no cgroup per service: s6's behaviour for every service")
	if err := fs.Parse(args[1:]); err != nil {
		return cli.Usagef("%s", usage)
	}
	ms, err := strconv.ParseUint(*poll, 10, 32)
	if err != nil {
		return cli.Usagef("-t %q: not a number of milliseconds; %s", *poll, usage)
	}
	dir := "."
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		return cli.Usagef("%s", usage)
	}
	s, err := svscan.New(svscan.Options{Dir: dir, Poll: time.Duration(ms) * time.Millisecond, Stderr: stderr, NoBackoff: *noBackoff, NoCgroup: *noCgroup})
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	return s.Run()
}

func main() { cli.Main("svscan", run) }
