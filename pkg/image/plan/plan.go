// Package plan resolves an image definition against the repository and
// the kernel into a plan: the busybox's commands and the image laid out
// without the busybox binary, every entry with its mode, link target or
// content source (bytes, or a host file read when the image is written).
// Everything is found and checked here, before anything is built; adding
// the busybox to the plan (Layout) does no I/O.
package plan

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/kmod/depmod"
)

// Plan is a definition resolved against the file system.
type Plan struct {
	Def      *image.Definition
	Root     string         // repository root
	Settings image.Settings // the definition's keys with overrides and defaults

	Commands []Command // busybox commands (ours, then the definition's), unique names

	Early    []ServiceDir
	Services []ServiceDir
	Hooks    string // host directory copied to the scan dir's .s6-svscan/

	Modules      *depmod.Set
	Tree         *depmod.Tree
	ShutdownHook string // host file
	Stage2Script string // host file replacing the generated stage 2
	// Rc lists the service definitions (s6-rc format) to install in
	// rc.DefaultDefs, by name; Settings.RcBundle is what stage 2 brings up.
	Rc []ServiceDir

	// Image is the image laid out, all but the busybox binary (which
	// Layout adds).
	Image *cpio.Archive

	cleanup []string
}

// ServiceDir is a service directory to copy into the image.
type ServiceDir struct {
	Name string
	Src  string
}

// Close removes temporary files the plan made (an unpacked .deb).
func (p *Plan) Close() {
	for _, d := range p.cleanup {
		os.RemoveAll(d)
	}
	p.cleanup = nil
}

// Options adjust Resolve.
type Options struct {
	// Overrides win over the definition's keys (mkimage -c, -o, -k).
	image.Overrides
	// URootDir is u-root's module directory; empty: ask go list
	// (downloading the module if it is not in the module cache).
	URootDir string
	// Progress receives a line when a module has to be downloaded.
	Progress io.Writer
	// NoOwnCommands leaves out this repository's cmds/* and uinit (tests).
	NoOwnCommands bool
}

// Resolve checks a definition against the repository at root and the
// kernel, and returns the plan to build it. Each step finds and checks
// one part of the definition; the last lays the image out.
func Resolve(d *image.Definition, root string, o Options) (_ *Plan, err error) {
	p := &Plan{Def: d, Root: root, Settings: d.Settings(o.Overrides)}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	r := &resolver{Plan: p, o: o}
	for _, step := range []func() error{
		r.commands,   // commands.go
		r.services,   // services.go
		p.resolveRc,  // rc.go
		r.files,      // services.go
		r.checkOptIn, // optin.go
		r.kernel,     // kernel.go
		p.layout,     // layout.go
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// resolver is Resolve's state between its steps.
type resolver struct {
	*Plan
	o     Options
	optIn map[string]Command // this repository's opt-in commands, by name
	have  map[string]bool    // the image's commands, by name
}

// abs takes a definition's path from the repository root.
func (p *Plan) abs(s string) string {
	if filepath.IsAbs(s) {
		return s
	}
	return filepath.Join(p.Root, s)
}

// defErr is a definition error at line.
func (p *Plan) defErr(line int, format string, a ...any) error {
	return &image.Error{File: p.Def.File, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// rel names a host file by its path from the repository root when it is
// inside it.
func (p *Plan) rel(file string) string {
	if r, err := filepath.Rel(p.Root, file); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return file
}

// CommandNames returns the busybox commands' names, sorted.
func (p *Plan) CommandNames() []string { return sortedNames(p.Commands) }
