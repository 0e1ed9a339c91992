// Command svscanctl sends commands to the scanner running on a scan
// directory: s6-svscanctl's interface. See docs/svscanctl.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/servicedir"
)

const (
	prog    = "svscanctl"
	letters = "zabhitqnNR:XE:"
	usage   = "usage: svscanctl [ -zabhitqnN ] [ -R newroot ] [ -X | -E prog ] scandir"
)

func main() { cli.Main(prog, run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	g := getopt.New(args, letters)
	var cmds []byte
	// -R and -E carry a path, which goes into a request file of
	// .s6-svscan before the letter is written: R, and for -X and -E U
	// (the byte X was garbage to the scanner before -X existed).
	var root, exe string
	exec := false
	for {
		c, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch c {
		case 'R':
			if root != "" {
				return cli.Usagef("-R given twice\n%s", usage)
			}
			root = g.Arg
		case 'E':
			exe = g.Arg
			fallthrough
		case 'X':
			if exec {
				return cli.Usagef("-X or -E given twice\n%s", usage)
			}
			exec, c = true, 'U'
		}
		cmds = append(cmds, c)
	}
	for _, p := range []string{root, exe} {
		if p != "" && !filepath.IsAbs(p) {
			return cli.Usagef("%s: not an absolute path (the scanner may have another working directory)\n%s", p, usage)
		}
	}
	rest := g.Rest()
	if len(rest) == 0 {
		return cli.Usagef("missing scan directory\n%s", usage)
	}
	dir := rest[0]
	if dir == "" {
		return cli.Usagef("invalid scan directory: empty name")
	}
	err := control(dir, cmds, root, exe, exec)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, servicedir.ErrNotListening):
		return cli.Exitf(cli.ExitUsage, "%s: no svscan running (nothing reads %s/%s/control): start one with svscan %s", dir, dir, servicedir.ScanDir, dir)
	case errors.Is(err, servicedir.ErrBadControlDir):
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	return cli.Exitf(cli.ExitSystem, "cannot control %s: %v", dir, err)
}

// control writes the letters to dir's control FIFO, once a scanner is
// known to listen and the request files are in place.
func control(dir string, cmds []byte, root, exe string, exec bool) error {
	c, err := servicedir.OpenControl(dir, servicedir.ScanDir)
	if err != nil {
		return err
	}
	defer c.Close()
	if root != "" {
		if err := servicedir.WriteScanRequest(dir, servicedir.ScanRootRequest, root); err != nil {
			return fmt.Errorf("-R: %w", err)
		}
	}
	if exec {
		// Empty exe removes a stale request: -X execs the running program.
		if err := servicedir.WriteScanRequest(dir, servicedir.ScanExecRequest, exe); err != nil {
			return fmt.Errorf("-E: %w", err)
		}
	}
	return c.Write(cmds)
}
