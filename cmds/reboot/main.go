// Command reboot asks process 1 to reboot the machine (SIGUSR1 poweroff,
// SIGINT reboot, SIGUSR2 halt), or with -f does it at once. See
// docs/poweroff.md. The logic lives in pkg/shutdown.
package main

import (
	"io"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/shutdown"
)

func main() { cli.Main("reboot", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return shutdown.Command(shutdown.Reboot, args, stderr, shutdown.RealRequestSys())
}
