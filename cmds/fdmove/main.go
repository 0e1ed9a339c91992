// Command fdmove is execline's fdmove chain-loader as a standalone program:
// see docs/fdmove.md. The same code runs built into execlineb.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/execline"
)

func main() { cli.Main("fdmove", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return execline.Standalone("fdmove", args, stderr)
}
