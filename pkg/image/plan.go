package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/svinit/svinit/pkg/kmod/depmod"
)

// Plan is a definition resolved against the file system: everything is
// found and checked before anything is built.
type Plan struct {
	Def  *Definition
	Root string // repository root

	Commands []Command // busybox commands (ours, then the definition's), unique names
	Init     string    // command /init points to
	Shell    string    // command /bin/sh points to

	Early    []ServiceDir
	Services []ServiceDir
	Hooks    string // host directory copied to the scan dir's .s6-svscan/

	Modules      *depmod.Set
	Tree         *depmod.Tree
	AllAliases   bool
	ShutdownHook string // host file
	Stage2Script string // host file replacing the generated stage 2
	// Rc lists the service definitions (s6-rc format) to install in
	// rc.DefaultDefs, by name; RcBundle is what stage 2 brings up.
	Rc       []ServiceDir
	RcBundle string

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

// ResolveOptions adjust Resolve.
type ResolveOptions struct {
	Kernel string // overrides the definition's kernel:
	// URootDir is u-root's module directory; empty: ask go list
	// (downloading the module if it is not in the module cache).
	URootDir string
	// Progress receives a line when a module has to be downloaded.
	Progress io.Writer
	// NoOwnCommands leaves out this repository's cmds/* and uinit (tests).
	NoOwnCommands bool
}

// Resolve checks a definition against the repository at root and the
// kernel, and returns the plan to build it.
func Resolve(d *Definition, root string, o ResolveOptions) (_ *Plan, err error) {
	p := &Plan{Def: d, Root: root}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	defErr := func(line int, format string, a ...any) error {
		return &Error{File: d.File, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	abs := func(s string) string {
		if filepath.IsAbs(s) {
			return s
		}
		return filepath.Join(root, s)
	}

	// Commands.
	p.Init = d.Init.Value
	if p.Init == "" {
		p.Init = "uinit"
	}
	p.Shell = d.Shell.Value
	if p.Shell == "" {
		p.Shell = "gosh"
	}
	// Opt-in commands (OptInCommands) join the core ones only when the
	// definition lists them.
	optIn := map[string]Command{}
	if !o.NoOwnCommands {
		own, err := OwnCommands(root)
		if err != nil {
			return nil, err
		}
		for _, c := range own {
			if c.OptIn {
				optIn[c.Name] = c
			} else {
				p.Commands = append(p.Commands, c)
			}
		}
		uinit := filepath.Join(root, "uinit")
		ok, err := isMainPackage(uinit)
		if err != nil {
			return nil, err
		}
		if ok {
			p.Commands = append(p.Commands, Command{Name: "uinit", Package: uinit, Own: true})
		}
	}
	own := map[string]bool{}
	for _, c := range p.Commands {
		own[c.Name] = true
	}
	for _, w := range d.Commands {
		name := path.Base(w.Value)
		if own[name] {
			if name == w.Value {
				return nil, defErr(w.Line, "commands: %q is this repository's own command, always in the image: remove it from commands", name)
			}
			return nil, defErr(w.Line, "commands: %s: this repository's own command %q has that name: remove it from commands", w.Value, name)
		}
		if _, ok := optIn[name]; ok && name != w.Value {
			return nil, defErr(w.Line, "commands: %s: this repository's opt-in command %q has that name: write %s alone for ours, or drop it", w.Value, name, name)
		}
	}
	if len(d.Commands) > 0 {
		udir := o.URootDir
		if udir == "" {
			if udir, err = ModuleDir(root, URootModule, o.Progress); err != nil {
				return nil, err
			}
		}
		uroot, err := URootCommands(udir)
		if err != nil {
			return nil, err
		}
		tools, err := ToolsImports(root)
		if err != nil {
			return nil, fmt.Errorf("reading tools.go: %w", err)
		}
		cmds, err := ResolveCommands(d, optIn, uroot, tools)
		if err != nil {
			return nil, err
		}
		p.Commands = append(p.Commands, cmds...)
	}
	if err := checkNames(p.Commands); err != nil {
		return nil, &Error{File: d.File, Msg: err.Error()}
	}
	have := map[string]bool{}
	for _, c := range p.Commands {
		have[c.Name] = true
	}
	if !have[p.Init] {
		if p.Init == "uinit" && d.Init.Value == "" {
			return nil, &Error{File: d.File, Msg: "stage 1 is missing: uinit/ holds no Go main package yet (or set init: to a command the image has)"}
		}
		return nil, defErr(d.Init.Line, "init: %q is not one of the image's commands (%s)", p.Init, strings.Join(sortedNames(p.Commands), " "))
	}
	if !have[p.Shell] {
		return nil, defErr(d.Shell.Line, "shell: %q is not one of the image's commands: add it to commands", p.Shell)
	}

	// Services.
	tmplDir := filepath.Join(root, "templates")
	find := func(s Service) (ServiceDir, error) {
		src := filepath.Join(tmplDir, s.Name)
		if s.From != "" {
			src = abs(s.From)
		}
		st, err := os.Stat(src)
		if err != nil || !st.IsDir() {
			msg := fmt.Sprintf("service %q: no service directory %s", s.Name, src)
			if s.From == "" {
				if near := depmod.Near(s.Name, listDirs(tmplDir), 3); len(near) > 0 {
					msg += fmt.Sprintf(" (templates has %s)", strings.Join(near, ", "))
				} else {
					msg += " (add templates/" + s.Name + " or give from:)"
				}
			}
			return ServiceDir{}, defErr(s.Line, "%s", msg)
		}
		run := filepath.Join(src, "run")
		if st, err := os.Stat(run); err != nil || st.Mode()&0o111 == 0 {
			return ServiceDir{}, defErr(s.Line, "service %q: %s is missing or not executable", s.Name, run)
		}
		return ServiceDir{Name: s.Name, Src: src}, nil
	}
	for _, s := range d.EarlyServices {
		sd, err := find(s)
		if err != nil {
			return nil, err
		}
		p.Early = append(p.Early, sd)
	}
	for _, s := range d.Services {
		sd, err := find(s)
		if err != nil {
			return nil, err
		}
		p.Services = append(p.Services, sd)
	}
	if h := d.ScandirHooks; h.Value != "" {
		src := filepath.Join(tmplDir, h.Value)
		if st, err := os.Stat(src); err != nil || !st.IsDir() {
			return nil, defErr(h.Line, "scandir_hooks: no directory %s", src)
		}
		p.Hooks = src
	}

	if err := p.resolveRc(); err != nil {
		return nil, err
	}

	// Files, hooks.
	for _, f := range d.Files {
		if f.Src.Value != "" {
			if _, err := os.Lstat(abs(f.Src.Value)); err != nil {
				return nil, defErr(f.Src.Line, "files: src %s: %v", f.Src.Value, errors.Unwrap(err))
			}
		}
	}
	if h := d.ShutdownHook; h.Value != "" {
		p.ShutdownHook = abs(h.Value)
		if st, err := os.Stat(p.ShutdownHook); err != nil || !st.Mode().IsRegular() {
			return nil, defErr(h.Line, "shutdown_hook: %s is not a file", p.ShutdownHook)
		}
	}
	if s := d.Stage2.Script; s.Value != "" {
		p.Stage2Script = abs(s.Value)
		if st, err := os.Stat(p.Stage2Script); err != nil || !st.Mode().IsRegular() {
			return nil, defErr(s.Line, "stage2: script: %s is not a file", p.Stage2Script)
		}
	}
	if len(d.Stage2.Modules) > 0 && !have["modprobe"] {
		return nil, defErr(d.Stage2.Modules[0].Line, "stage2: modules: the image needs the modprobe command to load them: add modprobe to commands")
	}
	if err := p.checkOptIn(optIn); err != nil {
		return nil, err
	}

	// Kernel modules.
	kernel := o.Kernel
	if kernel == "" {
		kernel = d.Kernel.Value
	}
	p.AllAliases = d.Modules.Aliases.Value == "all"
	names := append([]Word(nil), d.Modules.Include...)
	names = append(names, d.Stage2.Modules...)
	// Errors name where the kernel came from: the definition's line, or
	// the -k option.
	kernelErr := func(format string, a ...any) error {
		if o.Kernel != "" {
			return &Error{File: d.File, Msg: "-k: " + fmt.Sprintf(format, a...)}
		}
		return defErr(d.Kernel.Line, "kernel: "+format, a...)
	}
	if kernel != "" && (len(names) > 0 || p.AllAliases) {
		src := abs(kernel)
		if strings.HasSuffix(src, ".deb") {
			tmp, err := os.MkdirTemp("", "mkimage-deb-")
			if err != nil {
				return nil, err
			}
			p.cleanup = append(p.cleanup, tmp)
			if err := extractDebModules(src, tmp); err != nil {
				return nil, kernelErr("%v", err)
			}
			src = tmp
		}
		mdir, err := depmod.FindModulesDir(src)
		if err != nil {
			return nil, kernelErr("%v (for the Debian kernel run scripts/kernel.sh or make kernel)", err)
		}
		if p.Tree, err = depmod.Open(mdir); err != nil {
			return nil, err
		}
		for _, n := range names {
			if _, ok := p.Tree.Path(n.Value); !ok && !p.Tree.Builtin(n.Value) {
				if _, err := p.Tree.Resolve([]string{n.Value}, false); err != nil {
					return nil, defErr(n.Line, "modules: %v", err)
				}
			}
		}
		var ns []string
		for _, n := range names {
			ns = append(ns, n.Value)
		}
		if p.Modules, err = p.Tree.Resolve(ns, true); err != nil {
			return nil, defErr(d.Modules.Line, "modules: %v", err)
		}
	}
	return p, nil
}

func listDirs(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// extractDebModules unpacks the lib/modules part of a Debian package into
// dst, with dpkg-deb.
func extractDebModules(deb, dst string) error {
	if _, err := os.Stat(deb); err != nil {
		return err
	}
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: dpkg-deb: %w (install dpkg, or unpack the package and name the tree)", deb, err)
	}
	tr := tar.NewReader(out)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("%s: %w", deb, err)
		}
		name := path.Clean("/" + h.Name)
		if !strings.HasPrefix(name, "/lib/modules/") && !strings.HasPrefix(name, "/usr/lib/modules/") {
			continue
		}
		p := filepath.Join(dst, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				var f *os.File
				if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644); err == nil {
					_, err = io.Copy(f, tr)
					f.Close()
					n++
				}
			}
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return err
		}
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s: dpkg-deb: %v: %s", deb, err, strings.TrimSpace(stderr.String()))
	}
	if n == 0 {
		return fmt.Errorf("%s: holds no lib/modules files", deb)
	}
	return nil
}

// serviceNames returns the services' names in definition order.
func serviceNames(s []ServiceDir) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Name)
	}
	return out
}
