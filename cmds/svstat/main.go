// Command svstat prints the state of a supervised service: s6-svstat's
// interface, with the same output. See docs/svstat.md.
package main

import (
	"bufio"
	"errors"
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient"
	"github.com/svinit/svinit/pkg/tai64n"
)

const (
	prog  = "svstat"
	usage = "usage: svstat [ -uwNrpgest | -o up,wantedup,normallyup,ready,paused,pid,pgid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor,restarts,restartdelay,nextstartin,permfailed,cgroup,processes,memory,memorypeak,oomkills ] [ -n ] servicedir"
)

func main() { cli.Main(prog, run) }

func usageErr(why string) error {
	if why == "" {
		return cli.Usagef("%s", usage)
	}
	return cli.Usagef("%s\n%s", why, usage)
}

// shortcut maps a single-letter option to its -o field.
func shortcut(c byte) string {
	switch c {
	case 'u':
		return "up"
	case 'w':
		return "wantedup"
	case 'N':
		return "normallyup"
	case 'r':
		return "ready"
	case 'p':
		return "pid"
	case 'g':
		return "pgid"
	case 'e':
		return "exitcode"
	case 's':
		return "signal"
	}
	return "updownfor" // 't'
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	g := getopt.New(args, "no:uwNrpgest")
	numeric := false
	var fields []svclient.Field
	for {
		c, ok, err := g.Next()
		if err != nil {
			return usageErr(err.Error())
		}
		if !ok {
			break
		}
		switch c {
		case 'n':
			numeric = true
		case 'o':
			fs, err := svclient.ParseFields(g.Arg)
			if err != nil {
				return usageErr("-o: " + err.Error())
			}
			fields = append(fields, fs...)
		default:
			f, _ := svclient.LookupField(shortcut(c))
			fields = append(fields, f)
		}
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return usageErr("missing service directory")
	}
	dir := rest[0]

	ok, err := servicedir.Supervised(dir)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%s: cannot tell whether it is supervised: %v", dir, err)
	}
	if !ok {
		return cli.Exitf(cli.ExitFalse, "%s: not supervised: no supervisor holds %s", dir, servicedir.LockPath(dir))
	}
	st, err := servicedir.ReadStatus(dir)
	if err != nil {
		if errors.Is(err, servicedir.ErrCorrupt) {
			return cli.Exitf(cli.ExitSystem, "%s: %v", dir, err)
		}
		return cli.Exitf(cli.ExitSystem, "%s: cannot read the status: %v", dir, err)
	}
	now := tai64n.Now()
	up, err := svclient.NormallyUp(dir)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%s: %v", dir, err)
	}
	v := svclient.NewView(st, up, now)
	v.Restart = svclient.ReadRestart(dir)
	v.Cgroup = svclient.ReadCgroup(dir)

	var line string
	if len(fields) == 0 {
		line = svclient.Human(v, numeric)
	} else {
		if svclient.NeedsPgid(fields) && v.Up() {
			if pg, ok := svclient.ProcPgid(v.Pid()); ok {
				v.Pgid = pg
			}
		}
		line = svclient.Format(fields, v)
	}
	w := bufio.NewWriter(stdout)
	w.WriteString(line)
	w.WriteByte('\n')
	if err := w.Flush(); err != nil {
		return cli.Exitf(cli.ExitSystem, "write to stdout: %v", err)
	}
	return nil
}
