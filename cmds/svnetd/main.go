// Command svnetd configures the network and keeps it configured: lo up,
// the kernel's ip= parameter, DHCPv4 (and with -6 DHCPv6) leases
// renewed for as long as it runs, /etc/resolv.conf; readiness on a notification descriptor. See
// docs/svnetd.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/kcmdline"
	"github.com/svinit/svinit/pkg/netconf"
)

func main() { cli.Main("svnetd", run) }

const usage = "usage: svnetd [-d notif] [-i ifaces] [-r resolvconf] [-n ntpconf] [-l leasedir] [-t timeout] [-6] [-H] [-K] [ip=...]..."

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	c := netconf.Config{Log: cli.Prefixed(stderr, "svnetd")}
	notif := -1
	kernel := true
	g := getopt.New(args, "d:i:r:n:l:t:6HK")
	for {
		o, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch o {
		case 'd':
			if notif, err = cli.NotificationFd(g.Arg); err != nil {
				return cli.Usagef("%v\n%s", err, usage)
			}
		case 'i':
			for _, i := range strings.Split(g.Arg, ",") {
				if i != "" {
					c.Interfaces = append(c.Interfaces, i)
				}
			}
		case 'r':
			c.ResolvConf = g.Arg
		case 'n':
			c.NTPConf = g.Arg
		case 'l':
			c.LeaseDir = g.Arg
		case 't':
			ms, err := getopt.ParseMillis(g.Arg)
			if err != nil || ms == 0 {
				return cli.Usagef("-t %s: want milliseconds above 0\n%s", g.Arg, usage)
			}
			c.Timeout = time.Duration(ms) * time.Millisecond
		case '6':
			c.DHCPv6 = true
		case 'H':
			c.SetHostname = true
		case 'K':
			kernel = false
		}
	}
	// The arguments are defaults, then the image's cmdline, then the
	// kernel's: a later ip= for the same device wins.
	params := g.Rest()
	for _, a := range params {
		if !strings.HasPrefix(a, "ip=") {
			return cli.Usagef("%q: arguments are ip= parameters\n%s", a, usage)
		}
	}
	if kernel {
		for _, p := range []string{bootfs.CmdlineFile, bootfs.ProcCmdline} {
			if b, err := os.ReadFile(p); err == nil {
				params = append(params, kcmdline.Split(string(b))...)
			}
		}
	}
	cfgs, _, err := netconf.FromParams(params)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	c.Params = cfgs
	if notif >= 0 {
		c.Ready = func() {
			fmt.Fprintln(stderr, "svnetd: ready")
			cli.Ready(notif)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	defer stop()
	if err := netconf.Run(ctx, c); err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	return nil
}
