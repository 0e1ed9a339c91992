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

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/svlog"
)

const usage = "usage: svlog [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -t lastlinetimeout ] [ -- ] logging_script"

func main() { cli.Main("svlog", run) }

// getopt parses s6-style short options (combined flags, attached or
// separate arguments, "--"), stopping at the first non-option.
func getopt(args []string, spec string, fn func(opt byte, arg string) error) ([]string, error) {
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return args[1:], nil
		}
		if len(a) < 2 || a[0] != '-' {
			return args, nil
		}
		args = args[1:]
		for i := 1; i < len(a); i++ {
			c := a[i]
			j := indexByte(spec, c)
			if j < 0 || c == ':' {
				return nil, cli.Usagef("unknown option -%c\n%s", c, usage)
			}
			if j+1 < len(spec) && spec[j+1] == ':' {
				arg := a[i+1:]
				if arg == "" {
					if len(args) == 0 {
						return nil, cli.Usagef("option -%c needs an argument\n%s", c, usage)
					}
					arg, args = args[0], args[1:]
				}
				if err := fn(c, arg); err != nil {
					return nil, err
				}
				break
			}
			if err := fn(c, ""); err != nil {
				return nil, err
			}
		}
	}
	return args, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	opts := svlog.Options{NotifyFd: -1, Verbosity: 1, LineLimit: svlog.DefaultLineLimit, Prog: "svlog"}
	uintArg := func(opt byte, s string) (uint64, error) {
		v, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return 0, cli.Usagef("option -%c: %q is not a non-negative number\n%s", opt, s, usage)
		}
		return v, nil
	}
	rest, err := getopt(args[1:], "qvbpl:d:t:", func(opt byte, arg string) error {
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
			v, err := uintArg(opt, arg)
			if err != nil {
				return err
			}
			if v < 3 {
				return cli.Usagef("notification fd must be 3 or more")
			}
			if _, err := unix.FcntlInt(uintptr(v), unix.F_GETFD, 0); err != nil {
				return cli.Usagef("invalid notification fd %d: %v", v, err)
			}
			opts.NotifyFd = int(v)
		}
		return nil
	})
	if err != nil {
		return err
	}
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
