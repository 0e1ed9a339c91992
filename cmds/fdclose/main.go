// Command fdclose is execline's fdclose chain-loader as a standalone program:
// see docs/fdclose.md. The same code runs built into execlineb.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/execline"
)

func main() { cli.Main("fdclose", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return execline.Standalone("fdclose", args, stderr)
}
