// Command export is execline's export chain-loader as a standalone program:
// see docs/export.md. The same code runs built into execlineb.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/execline"
)

func main() { cli.Main("export", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return execline.Standalone("export", args, stderr)
}
