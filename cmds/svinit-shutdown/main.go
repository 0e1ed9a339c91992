// Command svinit-shutdown is what svscan's .s6-svscan/SIG* hooks run:
// it records the action, runs the image's shutdown hook and tells
// svscan to stop. See docs/svinit-shutdown.md.
package main

import (
	"flag"
	"io"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/shutdown"
)

func main() { cli.Main("svinit-shutdown", run) }

const usage = "usage: svinit-shutdown [-t hook_timeout_ms] poweroff|reboot|halt"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("svinit-shutdown", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	timeout := fs.Int("t", int(shutdown.DefaultHookTimeout/time.Millisecond), "")
	if err := fs.Parse(args[1:]); err != nil {
		return cli.Usagef("%v\n%s", err, usage)
	}
	if fs.NArg() != 1 {
		return cli.Usagef("%s", usage)
	}
	a, err := shutdown.ParseAction(fs.Arg(0))
	if err != nil {
		return cli.Usagef("%v\n%s", err, usage)
	}
	if *timeout < 0 {
		return cli.Usagef("-t %d: want milliseconds, 0 for no limit\n%s", *timeout, usage)
	}
	h := shutdown.NewHook(a, stdout)
	h.Timeout = time.Duration(*timeout) * time.Millisecond
	return h.Run()
}
