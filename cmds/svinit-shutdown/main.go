// Command svinit-shutdown is what svscan's .s6-svscan/SIG* hooks run:
// it records the action, runs the image's shutdown hook and tells
// svscan to stop. See docs/svinit-shutdown.md.
package main

import (
	"flag"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/shutdown"
)

func main() { cli.Main("svinit-shutdown", run) }

const usage = "usage: svinit-shutdown [-t hook_timeout_ms] [-T abort_ms] poweroff|reboot|halt|switch|kexec"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("svinit-shutdown", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	timeout := fs.Int("t", int(shutdown.DefaultHookTimeout/time.Millisecond), "")
	abort := fs.Int("T", int(shutdown.DefaultAbortAfter/time.Millisecond), "")
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
	if *timeout < 0 || *abort < 0 {
		return cli.Usagef("-t/-T: want milliseconds, 0 for no limit\n%s", usage)
	}
	h := shutdown.NewHook(a, stdout)
	h.Timeout = time.Duration(*timeout) * time.Millisecond
	h.AbortAfter = time.Duration(*abort) * time.Millisecond
	h.Detach = detach
	return h.Run()
}

// detach points fds 1 and 2 at the console (or /dev/null): off the
// catch-all logger's FIFO, which would otherwise never see EOF.
func detach() {
	f, err := os.OpenFile(bootfs.Console, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		if f, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			return
		}
	}
	unix.Dup3(int(f.Fd()), 1, 0)
	unix.Dup3(int(f.Fd()), 2, 0)
	f.Close()
}
