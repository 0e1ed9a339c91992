// Command getty opens the console (or a given terminal) as the
// controlling terminal of a new session and starts a shell on it. See
// docs/getty.md.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/getty"
)

func main() { cli.Main("getty", run) }

const usage = "usage: getty [-l loginprog] [-T term] [-b baud] [-i issuefile] [-p passwordfile] [-w ms] [TTY]\n       getty -H [-s salt] < password"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	c := getty.Config{FailDelay: 2 * time.Second}
	hash := false
	salt := ""
	g := getopt.New(args, "l:T:b:i:p:w:Hs:")
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
			c.Login = g.Arg
		case 'T':
			c.Term = g.Arg
		case 'b':
			n, err := strconv.Atoi(g.Arg)
			if err != nil {
				return cli.Usagef("-b %s: want a baud rate like 115200\n%s", g.Arg, usage)
			}
			if c.Baud, err = getty.Speed(n); err != nil {
				return cli.Usagef("-b %s: %v", g.Arg, err)
			}
		case 'i':
			c.Issue = g.Arg
		case 'p':
			c.PasswordFile = g.Arg
		case 'w':
			ms, err := getopt.ParseMillis(g.Arg)
			if err != nil {
				return cli.Usagef("-w %s: %v\n%s", g.Arg, err, usage)
			}
			c.FailDelay = time.Duration(ms) * time.Millisecond
		case 'H':
			hash = true
		case 's':
			salt = g.Arg
		}
	}
	rest := g.Rest()
	if hash {
		if len(rest) != 0 {
			return cli.Usagef("-H takes no TTY\n%s", usage)
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return cli.Usagef("-H: read the password from stdin: %v", err)
		}
		entry, err := getty.HashPassword(salt, strings.TrimRight(line, "\r\n"))
		if err != nil {
			return cli.Usagef("-s: %v", err)
		}
		fmt.Fprintln(stdout, entry)
		return nil
	}
	switch len(rest) {
	case 0:
	case 1:
		c.TTY = getty.DevPath(rest[0])
	default:
		return cli.Usagef("too many arguments\n%s", usage)
	}
	if err := getty.Run(c); err != nil {
		if err == getty.ErrLoginFailed {
			return cli.Silent(cli.ExitFalse)
		}
		var exit getty.ShellExit
		if errors.As(err, &exit) {
			if exit == 0 {
				return nil
			}
			return cli.Silent(int(exit))
		}
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	return nil
}
