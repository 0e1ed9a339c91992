// Command mkimage builds svinit initramfs images from image definitions
// (images/*.yaml) and inspects built images. See docs/mkimage.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/build"
	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/inspect"
	"github.com/svinit/svinit/pkg/image/plan"
)

const usage = `usage:
  mkimage [build] [-C dir] [-o output] [-c compression] [-k kernel] [-v] [definition.yaml]
  mkimage check [-C dir] [-k kernel] [-p] [definition.yaml]
  mkimage ls [-l] image
  mkimage cat image path...
  mkimage diff image-a image-b`

func main() { cli.Main("mkimage", run) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	args = args[1:]
	sub := "build"
	if len(args) > 0 {
		switch args[0] {
		case "build", "check", "ls", "cat", "diff":
			sub, args = args[0], args[1:]
		case "help", "-h", "-help", "--help":
			fmt.Fprintln(stdout, usage)
			return nil
		}
	}
	switch sub {
	case "ls":
		return runLs(args, stdout, stderr)
	case "cat":
		return runCat(args, stdout, stderr)
	case "diff":
		return runDiff(args, stdout, stderr)
	}
	return runBuild(sub == "check", args, stdout, stderr)
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	return fs
}

func runBuild(checkOnly bool, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mkimage", stderr)
	dir := fs.String("C", "", "repository root (default: the directory holding go.mod above the current one)")
	out := fs.String("o", "", "output file (default: the definition's output, else out/initramfs.cpio.<compression>)")
	comp := fs.String("c", "", "compression: none, gzip, xz, zstd, lz4 (default: the definition's, else xz)")
	kernel := fs.String("k", "", "kernel modules source, overriding the definition's kernel:")
	verbose := fs.Bool("v", false, "show mkuimage's progress messages")
	var pkgs *bool
	if checkOnly {
		pkgs = fs.Bool("p", false, "print the busybox's Go packages (import paths or directories), one a line")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return cli.Silent(cli.ExitUsage)
	}
	if fs.NArg() > 1 {
		return cli.Usagef("one definition at a time (got %s)", strings.Join(fs.Args(), " "))
	}
	if *comp != "" && !slices.Contains(compress.Compressions, *comp) {
		return cli.Usagef("-c: unknown compression %q (want one of %s)", *comp, strings.Join(compress.Compressions, ", "))
	}
	start := *dir
	if start == "" {
		start = "."
	}
	root, err := image.FindRoot(start)
	if err != nil {
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	defFile := filepath.FromSlash(image.DefaultDefinition)
	if fs.NArg() == 1 {
		defFile = fs.Arg(0)
	}
	path := defFile
	if !filepath.IsAbs(path) {
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(root, defFile)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cli.Exitf(cli.ExitUsage, "definition: %v", err)
	}
	def, err := image.ParseDefinition(data, defFile)
	if err != nil {
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	def.Name = image.DefinitionName(root, path)
	// -o and -k name files from the current directory (the definition's
	// output: and kernel: are relative to the repository root).
	for _, p := range []*string{out, kernel} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return cli.Exitf(cli.ExitSystem, "%v", err)
			}
		}
	}
	var mtime int64
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		mtime, err = strconv.ParseInt(s, 10, 64)
		if err != nil || mtime < 0 || mtime > 0xffffffff {
			return cli.Usagef("SOURCE_DATE_EPOCH=%q: want seconds since 1970 (0 to 4294967295)", s)
		}
	}
	if checkOnly {
		// Resolving lays the image out (all but the busybox), so a path
		// two parts of the definition both produce is found here.
		p, err := plan.Resolve(def, root, plan.Options{Overrides: image.Overrides{Kernel: *kernel}, Progress: stderr})
		if err != nil {
			return definitionError(err)
		}
		p.Close()
		if *pkgs {
			for _, c := range p.Commands {
				fmt.Fprintln(stdout, c.Package)
			}
			return nil
		}
		fmt.Fprintf(stdout, "mkimage: %s: ok (%d commands, %d early services, %d services)\n", defFile, len(p.Commands), len(p.Early), len(p.Services))
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	res, err := build.Image(ctx, def, build.Options{
		Root: root, Output: *out, Compression: *comp, Kernel: *kernel,
		MTime: mtime, Progress: stderr, Verbose: *verbose,
	})
	if err != nil {
		if ctx.Err() != nil {
			return cli.Exitf(cli.ExitSystem, "interrupted: nothing written")
		}
		return definitionError(err)
	}
	fmt.Fprint(stdout, res.Summary())
	return nil
}

// definitionError maps definition problems to exit 100, others to 111.
func definitionError(err error) error {
	var de *image.Error
	if errors.As(err, &de) {
		return cli.Exitf(cli.ExitUsage, "%v", err)
	}
	return cli.Exitf(cli.ExitSystem, "%v", err)
}

func readImage(path string) ([]*cpio.Entry, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	es, comp, err := inspect.ReadImage(f)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return es, comp, nil
}

func runLs(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mkimage ls", stderr)
	long := fs.Bool("l", false, "long listing: mode, size, path, link target")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return cli.Silent(cli.ExitUsage)
	}
	if fs.NArg() != 1 {
		return cli.Usagef("ls takes one image file")
	}
	es, _, err := readImage(fs.Arg(0))
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	for _, e := range es {
		fmt.Fprintln(stdout, inspect.FormatEntry(e, *long))
	}
	return nil
}

// runCat writes the contents of files of an image (symlinks: their target
// and a newline).
func runCat(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mkimage cat", stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return cli.Silent(cli.ExitUsage)
	}
	if fs.NArg() < 2 {
		return cli.Usagef("cat takes an image file and the paths to print")
	}
	es, _, err := readImage(fs.Arg(0))
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	byName := map[string]*cpio.Entry{}
	for _, e := range es {
		byName[e.Name] = e
	}
	for _, p := range fs.Args()[1:] {
		name, err := cpio.CleanName(p)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		e, ok := byName[name]
		switch {
		case !ok:
			return cli.Exitf(cli.ExitFalse, "%s: /%s: not in the image", fs.Arg(0), name)
		case e.Mode&cpio.TypeMask == cpio.TypeSymlink:
			fmt.Fprintln(stdout, e.Link)
		case e.Mode&cpio.TypeMask != cpio.TypeRegular:
			return cli.Exitf(cli.ExitFalse, "%s: /%s: not a regular file", fs.Arg(0), name)
		default:
			stdout.Write(e.Data)
		}
	}
	return nil
}

func runDiff(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("mkimage diff", stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return cli.Silent(cli.ExitUsage)
	}
	if fs.NArg() != 2 {
		return cli.Usagef("diff takes two image files")
	}
	a, _, err := readImage(fs.Arg(0))
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	b, _, err := readImage(fs.Arg(1))
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	d := inspect.Diff(a, b)
	for _, l := range d {
		fmt.Fprintln(stdout, l)
	}
	if len(d) > 0 {
		return cli.Silent(cli.ExitFalse)
	}
	return nil
}
