// Command svscanctl sends commands to the scanner running on a scan
// directory: s6-svscanctl's interface. See docs/svscanctl.md.
package main

import (
	"errors"
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/servicedir"
)

const (
	prog    = "svscanctl"
	letters = "zabhitqnN"
	usage   = "usage: svscanctl [ -zabhitqnN ] scandir"
)

func main() { cli.Main(prog, run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	g := getopt.New(args, letters)
	var cmds []byte
	for {
		c, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		cmds = append(cmds, c)
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return cli.Usagef("missing scan directory\n%s", usage)
	}
	dir := rest[0]
	if dir == "" {
		return cli.Usagef("invalid scan directory: empty name")
	}
	err := servicedir.WriteControl(dir, servicedir.ScanDir, cmds)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, servicedir.ErrNotListening):
		return cli.Exitf(cli.ExitUsage, "%s: no svscan running (nothing reads %s/%s/control): start one with svscan %s", dir, dir, servicedir.ScanDir, dir)
	case errors.Is(err, servicedir.ErrBadControlDir):
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	return cli.Exitf(cli.ExitSystem, "cannot control %s: %v", dir, err)
}
