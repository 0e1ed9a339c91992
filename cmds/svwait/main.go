// Command svwait waits for one or more supervised services to reach a
// state: s6-svwait's interface. See docs/svwait.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/svclient"
)

const (
	prog  = "svwait"
	usage = "usage: svwait [ -U | -u | -d | -D | -r | -R ] [ -a | -o ] [ -t timeout ] servicedir..."
	// maxFailed caps the "n services failed" exit code below the codes
	// that mean something else (99 timeout, 100 usage, 102, 111).
	maxFailed = 98
)

func main() { cli.Main(prog, run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	g := getopt.New(args, "UudDrRaot:")
	mode := byte('u')
	anyOf := false
	timeout := uint64(0)
	for {
		c, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch c {
		case 'a':
			anyOf = false
		case 'o':
			anyOf = true
		case 't':
			t, err := getopt.ParseMillis(g.Arg)
			if err != nil {
				return cli.Usagef("-t: %v\n%s", err, usage)
			}
			timeout = t
		default:
			mode = c
		}
	}
	dirs := g.Rest()
	if len(dirs) == 0 {
		return cli.Usagef("missing service directory\n%s", usage)
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	goal, restart, _ := svclient.GoalFor(mode)

	w, err := svclient.Listen(dirs)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	defer w.Close()
	if restart {
		// First every service down, then the goal.
		if err := wait(w, svclient.Goal{}, false, deadline, timeout); err != nil {
			return err
		}
	}
	return wait(w, goal, anyOf, deadline, timeout)
}

func wait(w *svclient.Waiter, goal svclient.Goal, anyOf bool, deadline time.Time, timeout uint64) error {
	r, err := w.Wait(goal, anyOf, deadline)
	switch {
	case errors.Is(err, svclient.ErrTimeout):
		which := "all of"
		if anyOf {
			which = "any of"
		}
		return cli.Exitf(cli.ExitTimeout, "timed out after %d ms waiting for %s %s to be %s",
			timeout, which, strings.Join(w.Pending(goal), " "), goal.Describe())
	case err != nil:
		return cli.Exitf(cli.ExitSystem, "%v", err)
	case len(r.Died) > 0:
		return cli.Exitf(cli.ExitNotSupervised, "the supervisor of %s exited before the service was %s",
			strings.Join(r.Died, " "), goal.Describe())
	case len(r.Failed) > 0:
		return cli.Exitf(min(len(r.Failed), maxFailed), "%s reported permanent failure (finish exited 125)%s",
			strings.Join(r.Failed, " "), plural(len(r.Failed)))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(": %d services", n)
}
