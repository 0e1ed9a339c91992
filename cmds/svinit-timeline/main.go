// Command svinit-timeline shows the boot on one clock: when each
// supervised service was spawned and became ready, in seconds since the
// kernel started, as a text chart, JSON or an SVG picture. See
// docs/svinit-timeline.md.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/timeline"
)

const (
	prog  = "svinit-timeline"
	usage = "usage: svinit-timeline [ -t | -j | -s ] [ -d scandir ] [ -l logdir ] [ -k kmsg ] [ -m text ]... [ -e seconds ] [ -w width ] [ -o file ]"
)

func main() { cli.Main(prog, run) }

func usageErr(why string) error {
	return cli.Usagef("%s\n%s", why, usage)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	o := timeline.Options{
		Scandir: bootfs.Scandir,
		LogDir:  bootfs.CatchAllLogDir,
		Kmsg:    "/dev/kmsg",
		Proc:    "/proc",
	}
	var v timeline.View
	format := 't'
	out := ""
	g := getopt.New(args, "tjsd:l:k:m:e:w:o:")
	for {
		c, ok, err := g.Next()
		if err != nil {
			return usageErr(err.Error())
		}
		if !ok {
			break
		}
		switch c {
		case 't', 'j', 's':
			format = rune(c)
		case 'd':
			if g.Arg == "" {
				return usageErr("-d: empty scan directory")
			}
			o.Scandir = g.Arg
		case 'l':
			o.LogDir = g.Arg
		case 'k':
			o.Kmsg = g.Arg
		case 'm':
			if g.Arg == "" {
				return usageErr("-m: empty mark")
			}
			o.Marks = append(o.Marks, g.Arg)
		case 'e':
			f, err := strconv.ParseFloat(g.Arg, 64)
			if err != nil || !(f > 0) || f > 1e9 {
				return usageErr(fmt.Sprintf("-e %q: want the chart's end in seconds since the kernel started, above 0", g.Arg))
			}
			v.End = timeline.Sec(f)
		case 'w':
			n, err := strconv.Atoi(g.Arg)
			if err != nil || n < timeline.MinWidth || n > 1000 {
				return usageErr(fmt.Sprintf("-w %q: want a width in columns from %d to 1000", g.Arg, timeline.MinWidth))
			}
			v.Width = n
		case 'o':
			if g.Arg == "" {
				return usageErr("-o: empty file name")
			}
			out = g.Arg
		}
	}
	if rest := g.Rest(); len(rest) > 0 {
		return usageErr(fmt.Sprintf("unexpected argument %q", rest[0]))
	}
	t, err := timeline.Collect(o)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	var b bytes.Buffer
	switch format {
	case 'j':
		err = t.WriteJSON(&b)
	case 's':
		err = t.WriteSVG(&b, v)
	default:
		err = t.WriteText(&b, v)
	}
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	if out == "" {
		if _, err := stdout.Write(b.Bytes()); err != nil {
			return cli.Exitf(cli.ExitSystem, "write to stdout: %v", err)
		}
		return nil
	}
	if err := writeFile(out, b.Bytes()); err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	// The warnings still reach the console when the chart goes to a
	// file (they are also in it).
	for _, w := range t.Warnings {
		fmt.Fprintf(stderr, "%s: warning: %s\n", prog, w)
	}
	return nil
}

// writeFile replaces path atomically (a temporary file next to it, then
// a rename), so a reader never sees half a picture.
func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("-o %s: %w", path, err)
	}
	_, err = f.Write(b)
	if err2 := f.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("-o %s: %w", path, err)
	}
	return nil
}
