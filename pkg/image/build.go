package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
)

// Options control Build.
type Options struct {
	Root        string // repository root
	Output      string // overrides the definition's output
	Compression string // overrides the definition's compression
	Kernel      string // overrides the definition's kernel
	MTime       int64  // every entry's mtime (SOURCE_DATE_EPOCH)
	Progress    io.Writer
	Verbose     bool
	// Busybox builds the busybox; nil means BuildBusybox (tests pass a fake).
	Busybox func(ctx context.Context, p *Plan, tmp string) ([]*cpio.Entry, error)
	// Resolve options (tests).
	Resolve ResolveOptions
}

// Result describes a built image.
type Result struct {
	Output      string
	Compression string
	Entries     int
	Parts       map[string]int64 // payload bytes per part
	Total       int64            // uncompressed cpio size
	Compressed  int64            // file size
	Phases      []Phase
}

// Phase is one timed step of a build.
type Phase struct {
	Name     string
	Duration time.Duration
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// Build builds the image a definition describes and writes it atomically.
func Build(ctx context.Context, d *Definition, o Options) (*Result, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	res := &Result{Parts: map[string]int64{}}
	phase := func(name string, f func() error) error {
		fmt.Fprintf(progress, "mkimage: %s...\n", name)
		start := time.Now()
		err := f()
		res.Phases = append(res.Phases, Phase{name, time.Since(start)})
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		return err
	}

	out := o.Output
	if out == "" {
		out = d.Output.Value
	}
	comp := o.Compression
	if comp == "" {
		comp = d.Compression.Value
	}
	if comp == "" {
		comp = "xz"
	}
	if _, err := compress.Writer(io.Discard, comp); err != nil {
		return nil, err
	}
	if out == "" {
		out = "out/initramfs.cpio" + compress.Suffix(comp)
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(o.Root, out)
	}
	res.Output, res.Compression = out, comp

	var plan *Plan
	if err := phase("resolving "+d.File, func() error {
		ro := o.Resolve
		if ro.Progress == nil {
			ro.Progress = progress
		}
		if o.Kernel != "" {
			ro.Kernel = o.Kernel
		}
		var err error
		plan, err = Resolve(d, o.Root, ro)
		return err
	}); err != nil {
		return nil, err
	}
	defer plan.Close()

	// The output is checked (and its temporary file made) before the
	// slow busybox build; an error or an interruption from here on
	// removes the temporary file and leaves the output as it was.
	af, err := CreateAtomic(out)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	defer af.Abort()

	a := cpio.NewArchive()
	if err := phase(fmt.Sprintf("building the busybox (%d commands: %s)", len(plan.Commands), strings.Join(sortedNames(plan.Commands), " ")), func() error {
		tmp, err := os.MkdirTemp("", "mkimage-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		build := o.Busybox
		if build == nil {
			build = func(ctx context.Context, p *Plan, tmp string) ([]*cpio.Entry, error) {
				// mkuimage's go command would fetch missing modules
				// too, but silently: fetch them first, saying so.
				var pkgs []string
				for _, c := range p.Commands {
					pkgs = append(pkgs, c.Package)
				}
				if err := DownloadModules(ctx, p.Root, pkgs, progress); err != nil {
					return nil, err
				}
				return BuildBusybox(ctx, p, tmp, BusyboxOptions{Log: progress, Verbose: o.Verbose})
			}
		}
		entries, err := build(ctx, plan, tmp)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := a.Add(e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := phase("laying out services, modules and files", func() error { return plan.Layout(a) }); err != nil {
		return nil, err
	}
	if err := phase(fmt.Sprintf("writing %s (%s)", out, comp), func() error {
		cw := &countWriter{w: af}
		zw, err := compress.Writer(cw, comp)
		if err != nil {
			return err
		}
		tw := &countWriter{w: zw}
		if err := a.WriteCPIO(tw, cpio.WriteOptions{MTime: o.MTime, Check: ctx.Err}); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", out, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		res.Total, res.Compressed = tw.n, cw.n
		return nil
	}); err != nil {
		return nil, err
	}
	if err := af.Commit(0o644); err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	for _, e := range a.Entries() {
		res.Parts[e.Part] += e.Size()
		res.Entries++
	}
	return res, nil
}

// Summary formats the result for people.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mkimage: wrote %s: %d entries\n", r.Output, r.Entries)
	var parts []string
	for p := range r.Parts {
		parts = append(parts, p)
	}
	sort.Strings(parts)
	for _, p := range parts {
		name := p
		if name == "" {
			name = "other"
		}
		fmt.Fprintf(&b, "  %-10s %10s\n", name, HumanSize(r.Parts[p]))
	}
	fmt.Fprintf(&b, "  %-10s %10s (cpio)\n", "total", HumanSize(r.Total))
	if r.Compression != "none" {
		fmt.Fprintf(&b, "  %-10s %10s (%s, %.1f%%)\n", "compressed", HumanSize(r.Compressed), r.Compression, 100*float64(r.Compressed)/float64(max(r.Total, 1)))
	}
	var ph []string
	for _, p := range r.Phases {
		ph = append(ph, fmt.Sprintf("%s %.1fs", strings.Fields(p.Name)[0], p.Duration.Seconds()))
	}
	fmt.Fprintf(&b, "  time: %s\n", strings.Join(ph, ", "))
	return b.String()
}

// HumanSize formats a byte count.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
