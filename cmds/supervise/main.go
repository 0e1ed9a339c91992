// Command supervise supervises one service directory, as s6-supervise
// does. See docs/supervise.md.
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/supervise"
)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) != 2 || args[1] == "" || args[1][0] == '-' {
		return cli.Usagef("usage: supervise dir")
	}
	r := reaper.New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	logf := func(format string, a ...any) { io.WriteString(stderr, "supervise: "+fmt.Sprintf(format, a...)+"\n") }
	svc, err := supervise.New(args[1], supervise.Options{Reaper: r, Logf: logf})
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGINT, syscall.SIGPIPE)
	go func() {
		for sig := range sigs {
			switch sig {
			case syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT:
				svc.Control("dx") // bring the service down, then exit
			case syscall.SIGHUP:
				svc.Control("x") // exit once the service is down by itself
			}
		}
	}()
	svc.Run()
	return nil
}

func main() { cli.Main("supervise", run) }
