// Command emptyenv is execline's emptyenv chain-loader as a standalone program:
// see docs/emptyenv.md. The same code runs built into execlineb.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/execline"
)

func main() { cli.Main("emptyenv", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return execline.Standalone("emptyenv", args, stderr)
}
