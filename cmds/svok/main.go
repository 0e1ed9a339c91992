// Command svok tells whether a service directory is supervised:
// s6-svok's interface. See docs/svok.md.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/servicedir"
)

const prog = "svok"

func main() { cli.Main(prog, run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	// Like s6-svok: no options; the first argument is the directory.
	if len(args) < 2 {
		return cli.Usagef("usage: svok servicedir")
	}
	dir := args[1]
	ok, err := servicedir.Supervised(dir)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%s: cannot tell whether it is supervised: %v", dir, err)
	}
	if !ok {
		return cli.Silent(cli.ExitFalse)
	}
	return nil
}
