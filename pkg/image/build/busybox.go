package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/plan"
	"github.com/u-root/gobusybox/src/pkg/golang"
	ucpio "github.com/u-root/mkuimage/cpio"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/mkuimage/uimage/initramfs"
	"github.com/u-root/uio/llog"
)

// BusyboxOptions tune the busybox build.
type BusyboxOptions struct {
	// Log receives mkuimage's warnings and errors.
	Log io.Writer
	// Verbose passes mkuimage's informational messages too.
	Verbose bool
	// ForceRebuild keeps mkuimage's "go build -a" (rebuild every package);
	// by default the Go build cache is used for dependencies.
	ForceRebuild bool
}

// BuildBusybox compiles the plan's commands into one u-root busybox for
// linux/amd64 (GOAMD64=v1, CGO off, trimmed paths, stripped) with mkuimage,
// and returns its entries: /bbin/bb, the /bbin/NAME links, /init and
// /bin/sh, read from mkuimage's records as it writes them. tmp is a
// scratch directory (it must exist).
func BuildBusybox(ctx context.Context, p *plan.Plan, tmp string, o BusyboxOptions) ([]*cpio.Entry, error) {
	if len(p.Commands) == 0 {
		return nil, fmt.Errorf("no commands to build")
	}
	// The guest CPU may be QEMU's baseline model: build for the x86-64
	// baseline. The go command mkuimage runs inherits our environment.
	if os.Getenv("GOAMD64") != "v1" {
		os.Setenv("GOAMD64", "v1")
	}
	env := golang.Default(golang.DisableCGO(), golang.WithGOOS("linux"), golang.WithGOARCH("amd64"), golang.WithWorkingDir(p.Root))
	level := slog.LevelWarn
	if o.Verbose {
		level = slog.LevelInfo
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	l := llog.New(level, func(format string, v ...any) {
		fmt.Fprintf(logw, "mkuimage: "+strings.TrimSuffix(format, "\n")+"\n", v...)
	})
	var pkgs []string
	for _, c := range p.Commands {
		pkgs = append(pkgs, c.Package)
	}
	// No VCS stamp: the same sources give the same binary whatever the
	// state of the checkout around them.
	bopts := &golang.BuildOpts{ExtraArgs: []string{"-buildvcs=false"}}
	if !o.ForceRebuild {
		bopts.ExtraArgs = append(bopts.ExtraArgs, "-a=false")
	}
	recs := &records{}
	done := make(chan error, 1)
	go func() {
		done <- uimage.Create(l,
			uimage.WithReplaceEnv(env),
			uimage.WithBusyboxCommands(pkgs...),
			uimage.WithBusyboxBuildOpts(bopts),
			uimage.WithInit(p.Settings.Init),
			uimage.WithShell(p.Settings.Shell),
			uimage.WithSkipLDD(),
			uimage.WithTempDir(tmp),
			uimage.WithOutput(recs),
		)
	}()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("building the busybox: %w", err)
		}
	case <-ctx.Done():
		// From a terminal the go command got the same signal; a signal
		// sent to mkimage alone (kill, timeout(1)) did not reach it: pass
		// an interrupt on to the go command (our children), so that it
		// stops its compilers, then wait for it so the caller can clean
		// up the scratch directory.
		// mkuimage may be between two go commands (its own package
		// loading runs in this process): keep interrupting until it
		// returns, so that the next go command it starts stops too.
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			interruptChildren()
			select {
			case <-done:
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
	}
	return recs.out, nil
}

// records is mkuimage's output (an initramfs.WriteOpener and Writer):
// each record it writes becomes an entry of the image's archive model as
// it comes, once.
type records struct {
	out []*cpio.Entry
}

func (r *records) OpenWriter() (initramfs.Writer, error) { return r, nil }

func (r *records) Finish() error { return nil }

func (r *records) WriteRecord(rec ucpio.Record) error {
	name := ucpio.Normalize(rec.Name)
	if name == "bin/defaultsh" {
		return nil // a u-root convention the image does not use
	}
	e := &cpio.Entry{Name: name, Mode: uint32(rec.Mode), Part: plan.PartBusybox, Src: "mkuimage"}
	switch rec.Mode & ucpio.S_IFMT {
	case ucpio.S_IFREG:
		data, err := io.ReadAll(io.NewSectionReader(rec.ReaderAt, 0, int64(rec.FileSize)))
		if err != nil {
			return fmt.Errorf("reading the built %s: %w", name, err)
		}
		e.Data = data
	case ucpio.S_IFLNK:
		data, err := io.ReadAll(io.NewSectionReader(rec.ReaderAt, 0, int64(rec.FileSize)))
		if err != nil {
			return err
		}
		e.Link = string(data)
	case ucpio.S_IFDIR:
	default:
		return nil // the plan makes the image's device nodes
	}
	r.out = append(r.out, e)
	return nil
}

// interruptChildren sends SIGINT to this process's children (found in
// /proc: the go command mkuimage runs). Nothing else is signalled.
func interruptChildren() {
	for _, pid := range childPIDs(os.Getpid()) {
		syscall.Kill(pid, syscall.SIGINT)
	}
}

// childPIDs lists the processes whose parent is ppid, from /proc.
func childPIDs(ppid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}
