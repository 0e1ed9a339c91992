// Command svc sends commands to the supervisor of a service directory,
// and can wait for the service to reach a state: s6-svc's interface.
// See docs/svc.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient"
)

const (
	prog = "svc"
	// Letters passed through to supervise/control. PCK are ours (and
	// newer s6's): Debian's s6-svc 2.11 refuses them.
	letters = "abqhkti12pcyroduDUxOQPCK"
	usage   = "usage: svc [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -abqhkti12pcyroduDUxOQPCK ] servicedir"
)

func main() { cli.Main(prog, run) }

func usageErr(why string) error {
	if why == "" {
		return cli.Usagef("%s", usage)
	}
	return cli.Usagef("%s\n%s", why, usage)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	g := getopt.New(args, letters+"T:w:")
	var cmds []byte
	var wait byte
	timeout := uint64(0)
	for {
		c, ok, err := g.Next()
		if err != nil {
			return usageErr(err.Error())
		}
		if !ok {
			break
		}
		switch c {
		case 'T':
			t, err := getopt.ParseMillis(g.Arg)
			if err != nil {
				return usageErr("-T: " + err.Error())
			}
			timeout = t
		case 'w':
			if g.Arg == "" {
				return usageErr("-w needs one of u U d D r R")
			}
			if _, _, ok := svclient.GoalFor(g.Arg[0]); !ok {
				return usageErr(fmt.Sprintf("-w%s: not one of u U d D r R", g.Arg))
			}
			// Like s6-svc, only the first letter counts.
			wait = g.Arg[0]
		default:
			cmds = append(cmds, c)
		}
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return usageErr("missing service directory")
	}
	if len(rest) > 1 {
		fmt.Fprintf(stderr, "%s: warning: ignoring extra arguments after %s\n", prog, rest[0])
	}
	dir := rest[0]
	if dir == "" {
		return cli.Usagef("invalid service directory: empty name")
	}

	if wait == 'U' || wait == 'R' {
		nf := filepath.Join(dir, "notification-fd")
		if _, err := os.Stat(nf); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				return cli.Exitf(cli.ExitSystem, "%v", err)
			}
			fmt.Fprintf(stderr, "%s: warning: %s does not exist, so the service cannot report readiness: waiting for -w%c instead of -w%c\n",
				prog, nf, wait+'a'-'A', wait)
			wait += 'a' - 'A'
		}
	}

	if wait == 0 {
		return controlErr(dir, servicedir.WriteControl(dir, servicedir.SuperviseDir, cmds))
	}

	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	goal, restart, _ := svclient.GoalFor(wait)

	var ctl *servicedir.Control
	if len(cmds) > 0 {
		// Open the FIFO first so "no supervisor" is reported as such,
		// then subscribe, then send: nothing the commands cause can
		// happen before we listen.
		var err error
		if ctl, err = servicedir.OpenControl(dir, servicedir.SuperviseDir); err != nil {
			return controlErr(dir, err)
		}
		defer ctl.Close()
	}
	w, err := svclient.Listen([]string{dir})
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	defer w.Close()
	if ctl != nil {
		if err := ctl.Write(cmds); err != nil {
			return controlErr(dir, err)
		}
		ctl.Close()
	}

	if restart {
		// With commands, as s6-svc -w does it: wait for the service to
		// be down and finished, then up. Without commands, as
		// s6-svwait -r: down, then up.
		first := svclient.Goal{Ready: len(cmds) > 0}
		if err := waitErr(dir, w, first, deadline, timeout); err != nil {
			return err
		}
	}
	return waitErr(dir, w, goal, deadline, timeout)
}

func waitErr(dir string, w *svclient.Waiter, goal svclient.Goal, deadline time.Time, timeout uint64) error {
	r, err := w.Wait(goal, true, deadline)
	switch {
	case errors.Is(err, svclient.ErrTimeout):
		return cli.Exitf(cli.ExitTimeout, "%s: timed out after %d ms waiting for the service to be %s", dir, timeout, goal.Describe())
	case err != nil:
		return cli.Exitf(cli.ExitSystem, "%v", err)
	case len(r.Died) > 0:
		return cli.Exitf(cli.ExitNotSupervised, "%s: the supervisor exited before the service was %s", dir, goal.Describe())
	case len(r.Failed) > 0:
		return cli.Exitf(cli.ExitFalse, "%s: the service failed permanently (its finish script exited 125) instead of coming up", dir)
	}
	return nil
}

// controlErr maps a control failure to s6's exit codes.
func controlErr(dir string, err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, servicedir.ErrNotListening):
		return cli.Exitf(cli.ExitNotSupervised, "%s: no supervisor is running (nothing reads %s/supervise/control): start one with svscan or supervise", dir, dir)
	case errors.Is(err, servicedir.ErrBadControlDir):
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	return cli.Exitf(cli.ExitSystem, "cannot control %s: %v", dir, err)
}
