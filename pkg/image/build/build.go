// Package build makes an image: it resolves the definition into a plan,
// builds the busybox with mkuimage, lays the busybox into the plan and
// writes the compressed archive atomically (the output is the old file or
// the whole new one, never half of one).
package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/plan"
)

// Options control Image.
type Options struct {
	Root        string // repository root
	Output      string // overrides the definition's output
	Compression string // overrides the definition's compression
	Kernel      string // overrides the definition's kernel
	MTime       int64  // every entry's mtime (SOURCE_DATE_EPOCH)
	Progress    io.Writer
	Verbose     bool
	// Busybox builds the busybox; nil means BuildBusybox (tests pass a fake).
	Busybox func(ctx context.Context, p *plan.Plan, tmp string) ([]*cpio.Entry, error)
	// Resolve are the plan's options (tests); Output, Compression and
	// Kernel above win over its overrides.
	Resolve plan.Options
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

// Image builds the image a definition describes and writes it atomically.
func Image(ctx context.Context, d *image.Definition, o Options) (*Result, error) {
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

	ro := o.Resolve
	if ro.Progress == nil {
		ro.Progress = progress
	}
	for _, f := range []struct{ opt, override *string }{
		{&o.Output, &ro.Output}, {&o.Compression, &ro.Compression}, {&o.Kernel, &ro.Kernel},
	} {
		if *f.opt != "" {
			*f.override = *f.opt
		}
	}
	set := d.Settings(ro.Overrides)
	comp, out := set.Compression, set.Output
	if _, err := compress.Writer(io.Discard, comp); err != nil {
		return nil, err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(o.Root, out)
	}
	res.Output, res.Compression = out, comp

	var p *plan.Plan
	if err := phase("resolving "+d.File, func() error {
		var err error
		p, err = plan.Resolve(d, o.Root, ro)
		return err
	}); err != nil {
		return nil, err
	}
	defer p.Close()

	// The output is checked (and its temporary file made) before the
	// slow busybox build; an error or an interruption from here on
	// removes the temporary file and leaves the output as it was.
	af, err := CreateAtomic(out)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	defer af.Abort()

	var busybox []*cpio.Entry
	if err := phase(fmt.Sprintf("building the busybox (%d commands: %s)", len(p.Commands), strings.Join(p.CommandNames(), " ")), func() error {
		tmp, err := os.MkdirTemp("", "mkimage-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		build := o.Busybox
		if build == nil {
			build = func(ctx context.Context, p *plan.Plan, tmp string) ([]*cpio.Entry, error) {
				// mkuimage's go command would fetch missing modules
				// too, but silently: fetch them first, saying so.
				var pkgs []string
				for _, c := range p.Commands {
					pkgs = append(pkgs, c.Package)
				}
				if err := plan.DownloadModules(ctx, p.Root, pkgs, progress); err != nil {
					return nil, err
				}
				return BuildBusybox(ctx, p, tmp, BusyboxOptions{Log: progress, Verbose: o.Verbose})
			}
		}
		busybox, err = build(ctx, p, tmp)
		return err
	}); err != nil {
		return nil, err
	}
	// The plan laid everything else out when it was resolved.
	var a *cpio.Archive
	if err := phase("laying out services, modules and files", func() error {
		var err error
		a, err = p.Layout(busybox)
		return err
	}); err != nil {
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
