// Command svsshd is svinit's SSH server: key logins from an
// authorized_keys file, a host key generated on first start, a shell or
// one command per session. See docs/svsshd.md.
package main

import (
	"context"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/sshd"
)

func main() { cli.Main("svsshd", run) }

const usage = "usage: svsshd [-d notif] [-l addr] [-k hostkey] [-a authorized_keys] [-p passwordfile] [-s shell] [-L loginprog]"

// Defaults.
const (
	defaultAddr    = ":22"
	defaultHostKey = "/run/svsshd/ssh_host_ed25519_key"     // generated on first start
	imageHostKey   = "/etc/svinit/ssh/ssh_host_ed25519_key" // the image's own, when it has one
	defaultKeys    = "/etc/svinit/ssh/authorized_keys"
	defaultShell   = "/bin/sh"
)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	c := sshd.Config{
		HostKey: defaultHostKey, AuthorizedKeys: defaultKeys, Shell: defaultShell,
		Log: cli.Prefixed(stderr, "svsshd"),
		Env: []string{"PATH=" + bootfs.DefaultPath, "HOME=/root", "SHELL=" + defaultShell},
	}
	addr := defaultAddr
	notif := -1
	if _, err := os.Stat(imageHostKey); err == nil {
		c.HostKey = imageHostKey
	}
	g := getopt.New(args, "d:l:k:a:p:s:L:")
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
		case 'l':
			addr = g.Arg
		case 'k':
			c.HostKey = g.Arg
		case 'a':
			c.AuthorizedKeys = g.Arg
		case 'p':
			c.PasswordFile = g.Arg
		case 'L':
			// Relative to the service directory (sessions run in HOME).
			l, err := filepath.Abs(g.Arg)
			if err != nil {
				return cli.Usagef("-L %s: %v", g.Arg, err)
			}
			c.Login = l
		case 's':
			c.Shell = g.Arg
			c.Env[2] = "SHELL=" + g.Arg
		}
	}
	if len(g.Rest()) > 0 {
		return cli.Usagef("too many arguments\n%s", usage)
	}
	if _, err := os.Stat(c.AuthorizedKeys); err != nil && c.PasswordFile == "" {
		return cli.Exitf(cli.ExitSystem, "%v: nobody could log in (put keys there, or name another file with -a)", err)
	}
	srv, err := sshd.New(c)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	io.WriteString(stderr, "svsshd: listening on "+l.Addr().String()+"\n")
	cli.Ready(notif)
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	defer stop()
	if err := srv.Serve(ctx, l); err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	return nil
}
