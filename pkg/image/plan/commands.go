package plan

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/kmod/depmod"
)

// URootModule is the module u-root's commands come from.
const URootModule = "github.com/u-root/u-root"

// Command is one command of the busybox.
type Command struct {
	Name    string // argv[0] it answers to: /bbin/NAME, /bin/NAME
	Package string // Go import path, or an absolute directory for this repository's commands
	Own     bool   // from this repository (cmds/* or uinit)
	OptIn   bool   // one of OptInCommands: only in images that list it
}

// commands lists the busybox's commands: this repository's core ones and
// uinit, then the definition's (its opt-in commands, u-root's, or Go
// packages tools.go imports), and checks init: and shell: name one.
func (r *resolver) commands() error {
	d, o := r.Def, r.o
	// Opt-in commands (OptInCommands) join the core ones only when the
	// definition lists them.
	r.optIn = map[string]Command{}
	if !o.NoOwnCommands {
		own, err := OwnCommands(r.Root)
		if err != nil {
			return err
		}
		for _, c := range own {
			if c.OptIn {
				r.optIn[c.Name] = c
			} else {
				r.Commands = append(r.Commands, c)
			}
		}
		uinit := filepath.Join(r.Root, "uinit")
		ok, err := isMainPackage(uinit)
		if err != nil {
			return err
		}
		if ok {
			r.Commands = append(r.Commands, Command{Name: "uinit", Package: uinit, Own: true})
		}
	}
	own := map[string]bool{}
	for _, c := range r.Commands {
		own[c.Name] = true
	}
	for _, w := range d.Commands {
		name := path.Base(w.Value)
		if own[name] {
			if name == w.Value {
				return r.defErr(w.Line, "commands: %q is this repository's own command, always in the image: remove it from commands", name)
			}
			return r.defErr(w.Line, "commands: %s: this repository's own command %q has that name: remove it from commands", w.Value, name)
		}
		if _, ok := r.optIn[name]; ok && name != w.Value {
			return r.defErr(w.Line, "commands: %s: this repository's opt-in command %q has that name: write %s alone for ours, or drop it", w.Value, name, name)
		}
	}
	if len(d.Commands) > 0 {
		udir := o.URootDir
		if udir == "" {
			var err error
			if udir, err = ModuleDir(r.Root, URootModule, o.Progress); err != nil {
				return err
			}
		}
		uroot, err := URootCommands(udir)
		if err != nil {
			return err
		}
		tools, err := ToolsImports(r.Root)
		if err != nil {
			return fmt.Errorf("reading tools.go: %w", err)
		}
		cmds, err := ResolveCommands(d, r.optIn, uroot, tools)
		if err != nil {
			return err
		}
		r.Commands = append(r.Commands, cmds...)
	}
	if err := checkNames(r.Commands); err != nil {
		return &image.Error{File: d.File, Msg: err.Error()}
	}
	r.have = map[string]bool{}
	for _, c := range r.Commands {
		r.have[c.Name] = true
	}
	if init := r.Settings.Init; !r.have[init] {
		if d.Init.Value == "" {
			return &image.Error{File: d.File, Msg: "stage 1 is missing: uinit/ holds no Go main package yet (or set init: to a command the image has)"}
		}
		return r.defErr(d.Init.Line, "init: %q is not one of the image's commands (%s)", init, strings.Join(sortedNames(r.Commands), " "))
	}
	if !r.have[r.Settings.Shell] {
		return r.defErr(d.Shell.Line, "shell: %q is not one of the image's commands: add it to commands", r.Settings.Shell)
	}
	return nil
}

// OwnCommands lists the repository's commands: every directory under
// root/cmds holding a non-test Go file of package main, except mkimage
// (the host-side generator) and the directories the go tool ignores
// (testdata, names starting with . or _). Sorted by name. The commands of
// OptInCommands are marked OptIn: an image has them only when it lists
// them.
func OwnCommands(root string) ([]Command, error) {
	ents, err := os.ReadDir(filepath.Join(root, "cmds"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []Command
	for _, e := range ents {
		// The go tool ignores directories named testdata or starting
		// with . or _ (scratch work): so does the image.
		n := e.Name()
		if !e.IsDir() || n == "mkimage" || n == "testdata" || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			continue
		}
		dir := filepath.Join(root, "cmds", e.Name())
		ok, err := isMainPackage(dir)
		if err != nil {
			return nil, err
		}
		if ok {
			_, opt := OptInCommands[n]
			out = append(out, Command{Name: n, Package: dir, Own: true, OptIn: opt})
		}
	}
	return out, nil
}

// isMainPackage reports whether dir holds a non-test Go file of package main.
func isMainPackage(dir string) (bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.PackageClauseOnly)
		if err != nil {
			return false, fmt.Errorf("%s: %w", f, err)
		}
		if af.Name.Name == "main" {
			return true, nil
		}
	}
	return false, nil
}

// ToolsImports returns the import paths tools.go (at the repository root)
// imports.
func ToolsImports(root string) (map[string]bool, error) {
	p := filepath.Join(root, "tools.go")
	af, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, im := range af.Imports {
		v, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, nil
}

// URootCommands lists u-root's command packages by short name
// (cmds/core/NAME, then cmds/exp/NAME) found in urootDir.
func URootCommands(urootDir string) (map[string]string, error) {
	out := map[string]string{}
	for _, sub := range []string{"exp", "core"} { // core wins
		ents, err := os.ReadDir(filepath.Join(urootDir, "cmds", sub))
		if err != nil {
			return nil, fmt.Errorf("listing u-root commands: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() {
				out[e.Name()] = URootModule + "/cmds/" + sub + "/" + e.Name()
			}
		}
	}
	return out, nil
}

// ResolveCommands turns the definition's commands into Go packages. A
// short name is one of optIn (this repository's opt-in commands, by name),
// else a u-root command (cmds/core first, then cmds/exp); full import
// paths are taken as given. Each u-root or other package must be imported
// by tools.go, so that go.mod pins what the busybox build needs.
func ResolveCommands(d *image.Definition, optIn map[string]Command, uroot map[string]string, tools map[string]bool) ([]Command, error) {
	var out []Command
	for _, w := range d.Commands {
		if c, ok := optIn[w.Value]; ok {
			out = append(out, c)
			continue
		}
		pkg := w.Value
		if !strings.Contains(pkg, "/") {
			p, ok := uroot[pkg]
			if !ok {
				names := optInNames(optIn)
				for n := range uroot {
					names = append(names, n)
				}
				msg := fmt.Sprintf("commands: unknown command %q: not a u-root command (cmds/core or cmds/exp)", pkg)
				if len(optIn) > 0 {
					msg = fmt.Sprintf("commands: unknown command %q: not an opt-in command of this repository (%s) nor a u-root command (cmds/core or cmds/exp)", pkg, strings.Join(optInNames(optIn), ", "))
				}
				if near := depmod.Near(pkg, names, 3); len(near) > 0 {
					msg += fmt.Sprintf("; did you mean %s?", strings.Join(near, ", "))
				}
				return nil, &image.Error{File: d.File, Line: w.Line, Msg: msg}
			}
			pkg = p
		}
		if !tools[pkg] {
			return nil, &image.Error{File: d.File, Line: w.Line, Msg: fmt.Sprintf("commands: %s is not imported by tools.go: add `_ %q` there so go.mod pins its dependencies", pkg, pkg)}
		}
		out = append(out, Command{Name: path.Base(pkg), Package: pkg})
	}
	return out, nil
}

// checkNames rejects two commands answering to the same name.
func checkNames(cmds []Command) error {
	seen := map[string]Command{}
	for _, c := range cmds {
		if o, ok := seen[c.Name]; ok {
			return fmt.Errorf("two commands named %q: %s and %s (drop one from the definition)", c.Name, o.Package, c.Package)
		}
		seen[c.Name] = c
	}
	return nil
}

// sortedNames returns the commands' names, sorted.
func sortedNames(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Name)
	}
	sort.Strings(out)
	return out
}
