package execline

import (
	"fmt"
	"io"
	"strconv"

	"github.com/svinit/svinit/pkg/cli"
)

const execlinebUsage = "execlineb [ -q | -w | -W ] [ -p | -P | -S nmin | -s nmin ] [ -c script ] [ file ] args..."

// Execlineb is the run function of the execlineb command: parse the
// script, handle positional parameters, run the chain.
func Execlineb(args []string, stderr io.Writer) error {
	if len(args) > 1 && (args[1] == ChainFlag || args[1] == detachFlag) {
		return Standalone("execlineb", args, stderr)
	}
	opts, rest, bad, ok := getopt(args, "qwWpPS:s:c:")
	if !ok {
		if bad != 0 {
			return cli.Usagef("unknown option or missing argument: -%c; usage: %s", bad, execlinebUsage)
		}
		return usage(execlinebUsage)
	}
	var (
		mode      byte = 0 // 0 push, 'p', 'P', 'S', 's'
		nmin      int
		strict    = -1
		script    string
		hasScript bool
	)
	for _, o := range opts {
		switch o.c {
		case 'q':
			strict = 0
		case 'w':
			strict = 1
		case 'W':
			strict = 2
		case 'p', 'P':
			mode = o.c
		case 'S', 's':
			n, err := strconv.Atoi(o.arg)
			if err != nil || n < 0 || o.arg[0] == '+' {
				return cli.Usagef("-%c: invalid number %q; usage: %s", o.c, o.arg, execlinebUsage)
			}
			mode, nmin = o.c, n
		case 'c':
			script, hasScript = o.arg, true
		}
	}
	st := NewState("execlineb", stderr)
	if len(args) == 0 {
		args = []string{"execlineb"}
	}
	var name, file string
	var src []byte
	if hasScript {
		name, file, src = args[0], "-c script", []byte(script)
	} else {
		if len(rest) == 0 {
			return usage(execlinebUsage)
		}
		name, file = rest[0], rest[0]
		rest = rest[1:]
		b, err := st.Sys.ReadFile(file, 0)
		if err != nil {
			return fmt.Errorf("%s: unable to read script: %w", file, err)
		}
		src = b
	}
	argv, pos, err := ParsePos(file, src)
	if err != nil {
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	switch mode {
	case 'P':
	case 'S', 's':
		if len(rest) < nmin {
			st.warnf("execlineb", "too few arguments: expecting at least %d but got %d", nmin, len(rest))
		}
		argv, pos = SubstitutePos(argv, pos, PositionalVars(name, rest, nmin, mode == 's'))
	default:
		st.Env.PushPositionals(name, rest, mode != 'p')
	}
	switch strict {
	case 0:
		st.Env.Unset("EXECLINE_STRICT")
	case 1, 2:
		st.Env.Set("EXECLINE_STRICT", strconv.Itoa(strict))
	}
	if len(argv) == 0 {
		return nil
	}
	st.SetPositions(file, pos)
	return st.Run(argv)
}
