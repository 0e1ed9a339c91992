// Command execlineb runs an execline script: see docs/execlineb.md.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/execline"
)

func main() { cli.Main("execlineb", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return execline.Execlineb(args, stderr)
}
