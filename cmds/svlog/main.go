// Command svlog is an s6-log compatible logger: it reads lines on its
// standard input and acts on them according to a logging script
// (selection, timestamps, log directories with automatic rotation).
// See docs/svlog.md.
package main

import (
	"errors"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/svlog"
)

const usage = "usage: svlog [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -t lastlinetimeout ] [ -- ] logging_script"

func main() { cli.Main("svlog", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts := svlog.Options{NotifyFd: -1, Verbosity: 1, LineLimit: svlog.DefaultLineLimit, Prog: "svlog"}
	uintArg := func(opt byte, s string) (uint64, error) {
		v, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return 0, cli.Usagef("option -%c: %q is not a non-negative number\n%s", opt, s, usage)
		}
		return v, nil
	}
	g := getopt.New(args[1:], "qvbpl:d:t:")
	for {
		opt, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		arg := g.Arg
		switch opt {

		case 'q':
			if opts.Verbosity > 0 {
				opts.Verbosity--
			}
		case 'v':
			opts.Verbosity++
		case 'b':
			opts.Block = true
		case 'p':
			opts.Protect = true
		case 'l':
			v, err := uintArg(opt, arg)
			if err != nil {
				return err
			}
			opts.LineLimit = int(v)
		case 't':
			v, err := uintArg(opt, arg)
			if err != nil {
				return err
			}
			opts.LastLine = time.Duration(v) * time.Millisecond
		case 'd':
			fd, err := cli.NotificationFd(arg)
			if err != nil {
				return cli.Usagef("%v", err)
			}
			opts.NotifyFd = fd
		}
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return cli.Usagef("%s", usage)
	}
	sc, err := svlog.Parse(rest)
	if err != nil {
		var se *svlog.SyntaxError
		if errors.As(err, &se) {
			return cli.Usagef("%v", err)
		}
		return err
	}
	f, ok := stdin.(*os.File)
	if !ok {
		return cli.Exitf(cli.ExitSystem, "stdin is not a file descriptor")
	}
	in := int(f.Fd())
	l, err := svlog.New(sc, opts, in, stdout, stderr)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	if err := l.Run(); err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	return nil
}
