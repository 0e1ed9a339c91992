// Command svrc is svinit's service manager: s6-rc's model (oneshots,
// longruns, bundles, dependencies, pipelines) read straight from
// s6-rc-compile's source format and carried out on a running svscan.
// See docs/svrc.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/rc"
)

const (
	prog  = "svrc"
	usage = `usage: svrc [ -c defdir ] [ -l scandir ] [ -b ] [ -a ] [ -u | -d | -D ] [ -p ] [ -v verbosity ] [ -n dryrunthrottle ] [ -t timeout ] change [ names... ]
       svrc [ -c defdir ] [ -l scandir ] [ -a ] [ -u | -d ] [ -e ] list|listall [ names... ]
       svrc [ -c defdir ] [ -l scandir ] status
       svrc [ -c defdir ] check [ defdir... ]
       svrc help`

	exitFailed  = 1
	exitTimeout = 2
	exitUnknown = 3
	exitInvalid = 4
)

func main() { cli.Main(prog, run) }

type opts struct {
	defs, scan             string
	block, all, prune      bool
	down, force, essential bool
	dry                    bool
	verbosity              uint64
	timeout                time.Duration
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	o := opts{defs: rc.DefaultDefs, scan: rc.DefaultScan, verbosity: 1}
	g := getopt.New(args, "c:l:baudDpev:n:t:")
	for {
		c, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch c {
		case 'c':
			o.defs = g.Arg
		case 'l':
			o.scan = g.Arg
		case 'b':
			o.block = true
		case 'a':
			o.all = true
		case 'u':
			o.down, o.force = false, false
		case 'd':
			o.down, o.force = true, false
		case 'D':
			o.down, o.force = true, true
		case 'p':
			o.prune = true
		case 'e':
			o.essential = true
		case 'v', 'n', 't':
			n, err := getopt.ParseMillis(g.Arg)
			if err != nil {
				return cli.Usagef("-%c: %v\n%s", c, err, usage)
			}
			switch c {
			case 'v':
				o.verbosity = n
			case 'n':
				o.dry = true
			case 't':
				o.timeout = time.Duration(n) * time.Millisecond
			}
		}
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return cli.Usagef("missing subcommand\n%s", usage)
	}
	verb, names := rest[0], rest[1:]
	switch verb {
	case "help":
		fmt.Fprintln(stdout, usage)
		return nil
	case "check":
		return check(o, names, stdout)
	case "start":
		o.down, o.force, o.prune = false, false, false
		verb = "change"
	case "stop":
		o.down, o.prune = true, false
		verb = "change"
	}
	if verb == "status" || verb == "list" || verb == "listall" {
		if _, err := os.Stat(o.defs); errors.Is(err, os.ErrNotExist) {
			// An image without rc: services: nothing to show, and
			// nothing wrong.
			fmt.Fprintf(stderr, "svrc: %s: no service definitions (an image declares them with rc:, see docs/writing-services.md; -c names another directory)\n", o.defs)
			return nil
		}
	}
	db, probs := rc.Load(o.defs)
	if probs != nil {
		return cli.Exitf(exitInvalid, "invalid definitions (svrc check says the same):\n%v", probs)
	}
	switch verb {
	case "change":
		return change(o, db, names, stdout, stderr)
	case "list", "listall":
		return list(o, db, verb == "listall", names, stdout)
	case "status":
		live, err := rc.OpenLive(o.scan, db, false, false)
		if err != nil {
			return cli.Exitf(cli.ExitSystem, "%v", err)
		}
		return rc.PrintStatus(stdout, live.Status(db))
	}
	return cli.Usagef("unknown subcommand %q\n%s", verb, usage)
}

func check(o opts, dirs []string, stdout io.Writer) error {
	if len(dirs) == 0 {
		dirs = []string{o.defs}
	}
	db, probs := rc.Load(dirs...)
	if probs != nil {
		return cli.Exitf(exitInvalid, "%d problem(s):\n%v", len(probs), probs)
	}
	n := 0
	for _, s := range db.Services {
		if s.Type != rc.Bundle {
			n++
		}
	}
	fmt.Fprintf(stdout, "%d services and %d bundles: ok\n", n, len(db.Services)-n)
	return nil
}

// selection resolves names, adding the active services with -a.
func selection(o opts, db *rc.DB, live *rc.Live, names []string) (map[int]bool, error) {
	sel, err := db.Resolve(names)
	if err != nil {
		return nil, cli.Exitf(exitUnknown, "%v", err)
	}
	if o.all {
		for id, s := range db.Atoms() {
			if live.IsUp(s) {
				sel[id] = true
			}
		}
	}
	return sel, nil
}

func list(o opts, db *rc.DB, closed bool, names []string, stdout io.Writer) error {
	live, err := rc.OpenLive(o.scan, db, false, false)
	if err != nil && o.all {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	sel, err := selection(o, db, live, names)
	if err != nil {
		return err
	}
	if closed {
		sel = db.Closure(sel, !o.down)
	} else if o.down {
		inv := map[int]bool{}
		for id := range db.Atoms() {
			if !sel[id] {
				inv[id] = true
			}
		}
		sel = inv
	}
	var out []string
	for id := range sel {
		s := db.Atoms()[id]
		if o.essential && s.Essential {
			continue
		}
		out = append(out, s.Name)
	}
	sort.Strings(out)
	for _, n := range out {
		fmt.Fprintln(stdout, n)
	}
	return nil
}

func change(o opts, db *rc.DB, names []string, stdout, stderr io.Writer) error {
	live, err := rc.OpenLive(o.scan, db, !o.dry, o.block)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	defer live.Close()
	sel, err := selection(o, db, live, names)
	if err != nil {
		return err
	}
	isUp := func(id int) bool { return live.IsUp(db.Atoms()[id]) }
	var plans []*rc.Plan
	if o.prune {
		plans = db.PrunePlans(sel, !o.down, o.force, isUp)
	} else {
		plans = append(plans, db.Plan(sel, !o.down, o.force, isUp))
	}
	if o.dry {
		for _, p := range plans {
			p.Print(stdout, db)
		}
		return nil
	}
	// Without execlineb, only oneshots fail (naming the fix).
	xl, _ := execlineb()
	eo := rc.Options{Execlineb: xl, Timeout: o.timeout, Force: o.force}
	if o.verbosity >= 2 {
		eo.Verbose = stderr
	}
	// SIGTERM and SIGINT abort the change as they abort s6-rc's: no
	// transition starts any more, the longruns under way fail (sent
	// down when going up), the oneshot scripts running finish.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	abort := make(chan struct{})
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case sig := <-sigs:
			if o.verbosity >= 2 {
				fmt.Fprintf(stderr, "svrc: got %v: aborting the change\n", sig)
			}
			close(abort)
		case <-finished:
		}
	}()
	eo.Abort = abort
	start := time.Now()
	for _, p := range plans {
		if o.verbosity >= 1 {
			for _, id := range p.Kept {
				fmt.Fprintf(stderr, "svrc: warning: %s stays up: it is essential or an essential service needs it (-D stops it)\n", db.Atoms()[id].Name)
			}
		}
		if o.timeout > 0 {
			eo.Timeout = o.timeout - time.Since(start)
			if eo.Timeout <= 0 {
				return cli.Exitf(exitTimeout, "timed out before the change was done")
			}
		}
		out := live.Execute(db, p, eo)
		if len(out.Failed) > 0 || out.Interrupted {
			out.Report(stderr, p.Up)
			if out.TimedOut {
				return cli.Silent(exitTimeout)
			}
			return cli.Silent(exitFailed)
		}
	}
	return nil
}

// execlineb finds execlineb, which reads oneshot scripts.
func execlineb() (string, error) {
	p, err := exec.LookPath("execlineb")
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("execlineb not found in PATH: oneshot scripts need svinit's execlineb (put its directory in PATH)")
		}
		return "", err
	}
	return filepath.Abs(p)
}
