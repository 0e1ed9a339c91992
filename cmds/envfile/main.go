// Command envfile is execline's envfile chain-loader as a standalone program:
// see docs/envfile.md. The same code runs built into execlineb.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/execline"
)

func main() { cli.Main("envfile", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return execline.Standalone("envfile", args, stderr)
}
