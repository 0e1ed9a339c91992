// Command svnetboot boots from the network: the boot file of svnetd's
// DHCP lease (or a URL given), over TFTP or HTTP, read as an iPXE script
// or a PXELINUX configuration; the chosen kernel is loaded for kexec and
// the kexec action asked of svinit, so the services stop in order before
// the new kernel runs. See docs/svnetboot.md. The logic is pkg/netboot.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/netboot"
	"github.com/svinit/svinit/pkg/shutdown"
)

func main() { cli.Main("svnetboot", run) }

const usage = "usage: svnetboot [-l leasedir] [-u url] [-i ifaces] [-L label] [-a append] [-D dir] [-r retry] [-C console] [-K] [-n]"

// Defaults.
const (
	defaultLeases = "/run/svnetd/leases" // svnetd -l, as templates/rc-net runs it
	defaultDir    = "/run/svnetboot"
)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runWith(args, stdout, stderr, func() bootfs.Cmdline { return bootfs.ReadCmdline("/") })
}

// runWith is run with the kernel command line's reader given.
func runWith(args []string, stdout, stderr io.Writer, cmdline func() bootfs.Cmdline) error {
	if len(args) > 0 {
		args = args[1:]
	}
	logw := cli.Prefixed(stderr, "svnetboot")
	c := netboot.Config{LeaseDir: defaultLeases, Dir: defaultDir, Log: logw,
		Kexec: netboot.Kexec{Load: shutdown.Load, Request: shutdown.RequestKexec}}
	dry := false
	console := ""
	kernel := true
	g := getopt.New(args, "l:u:i:L:a:D:r:C:Kn")
	for {
		o, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch o {
		case 'l':
			c.LeaseDir = g.Arg
		case 'u':
			u, err := netboot.ParseURL(g.Arg)
			if err != nil {
				return cli.Usagef("-u: %v", err)
			}
			c.URL = u
		case 'i':
			for _, i := range strings.Split(g.Arg, ",") {
				if i != "" {
					c.Interfaces = append(c.Interfaces, i)
				}
			}
		case 'L':
			c.Label = g.Arg
		case 'a':
			c.Append = g.Arg
		case 'D':
			c.Dir = g.Arg
		case 'r':
			ms, err := getopt.ParseMillis(g.Arg)
			if err != nil || ms == 0 {
				return cli.Usagef("-r %s: want milliseconds above 0\n%s", g.Arg, usage)
			}
			c.Retry = time.Duration(ms) * time.Millisecond
		case 'C':
			console = g.Arg
		case 'K':
			kernel = false
		case 'n':
			dry = true
		}
	}
	if len(g.Rest()) > 0 {
		return cli.Usagef("too many arguments\n%s", usage)
	}
	// svinit.netboot= (the image's cmdline:, then the kernel's) wins over
	// -u: the boot loader's word is the last.
	off := false
	if kernel {
		switch v := cmdline().Netboot; v {
		case "":
		case "off":
			off = true
		default:
			if u, err := netboot.ParseURL(v); err != nil {
				fmt.Fprintf(logw, "svinit.netboot=%s ignored: %v\n", v, err)
			} else {
				c.URL = u
			}
		}
	}
	if console != "" {
		// What it does also on the console: someone at the firmware's
		// console sees what is booted.
		f, err := os.OpenFile(console, os.O_WRONLY|os.O_APPEND|unix.O_NOCTTY, 0)
		if err != nil {
			fmt.Fprintf(logw, "-C %s: %v; messages go to standard error only\n", console, err)
		} else {
			defer f.Close()
			logw = io.MultiWriter(logw, cli.Prefixed(f, "svnetboot"))
			c.Log = logw
		}
	}
	if dry {
		// Fetch and show, load nothing, once.
		c.Once = true
		c.Kexec = netboot.Kexec{
			Load: func(kernel, initrd, cmdline string) error {
				fmt.Fprintf(stdout, "kernel %s\ninitrd %s\ncmdline %s\n", kernel, initrd, cmdline)
				return nil
			},
			Request: func() error { return nil },
		}
	}
	// u-root's configuration parsers log through the standard logger.
	log.SetOutput(logw)
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	defer stop()
	if off {
		if dry {
			return cli.Exitf(cli.ExitFalse, "nothing to boot: svinit.netboot=off")
		}
		// A longrun that exited would be started again: it idles.
		fmt.Fprintln(logw, "svinit.netboot=off: not booting from the network")
		<-ctx.Done()
		return nil
	}
	err := netboot.Run(ctx, c)
	switch {
	case err == nil && dry:
		return nil
	case err == nil:
		// The kexec is asked for: the way down stops this service too.
		fmt.Fprintln(logw, "waiting to be stopped")
		<-ctx.Done()
		return nil
	case errors.Is(err, context.Canceled):
		return nil // stopped
	case dry:
		return cli.Exitf(cli.ExitFalse, "nothing to boot: %v", err)
	}
	return cli.Exitf(cli.ExitSystem, "%v", err)
}
