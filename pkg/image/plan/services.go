package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/kmod/depmod"
)

// services finds the early services, the services and the scan
// directory's hooks: templates/NAME, or a from: directory.
func (r *resolver) services() error {
	d := r.Def
	for _, s := range d.EarlyServices {
		sd, err := r.findService(s)
		if err != nil {
			return err
		}
		r.Early = append(r.Early, sd)
	}
	for _, s := range d.Services {
		sd, err := r.findService(s)
		if err != nil {
			return err
		}
		r.Services = append(r.Services, sd)
	}
	if h := d.ScandirHooks; h.Value != "" {
		src := filepath.Join(r.Root, "templates", h.Value)
		if st, err := os.Stat(src); err != nil || !st.IsDir() {
			return r.defErr(h.Line, "scandir_hooks: no directory %s", src)
		}
		r.Hooks = src
	}
	return nil
}

// findService finds a service directory with an executable run file.
func (r *resolver) findService(s image.Service) (ServiceDir, error) {
	tmplDir := filepath.Join(r.Root, "templates")
	src := filepath.Join(tmplDir, s.Name)
	if s.From != "" {
		src = r.abs(s.From)
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
		return ServiceDir{}, r.defErr(s.Line, "%s", msg)
	}
	run := filepath.Join(src, "run")
	if st, err := os.Stat(run); err != nil || st.Mode()&0o111 == 0 {
		return ServiceDir{}, r.defErr(s.Line, "service %q: %s is missing or not executable", s.Name, run)
	}
	return ServiceDir{Name: s.Name, Src: src}, nil
}

// files checks the extra files' sources, the shutdown hook and a
// hand-written stage 2, and that stage 2 can load its modules.
func (r *resolver) files() error {
	d := r.Def
	for _, f := range d.Files {
		if f.Src.Value != "" {
			if _, err := os.Lstat(r.abs(f.Src.Value)); err != nil {
				return r.defErr(f.Src.Line, "files: src %s: %v", f.Src.Value, errors.Unwrap(err))
			}
		}
	}
	if h := d.ShutdownHook; h.Value != "" {
		r.ShutdownHook = r.abs(h.Value)
		if st, err := os.Stat(r.ShutdownHook); err != nil || !st.Mode().IsRegular() {
			return r.defErr(h.Line, "shutdown_hook: %s is not a file", r.ShutdownHook)
		}
	}
	if s := d.Stage2.Script; s.Value != "" {
		r.Stage2Script = r.abs(s.Value)
		if st, err := os.Stat(r.Stage2Script); err != nil || !st.Mode().IsRegular() {
			return r.defErr(s.Line, "stage2: script: %s is not a file", r.Stage2Script)
		}
	}
	if len(d.Services) > 0 && r.Stage2Script == "" {
		// The generated stage 2 copies each service under a dot-name,
		// then renames it in (stage2.go).
		for _, c := range []string{"cp", "mv"} {
			if !r.have[c] {
				return r.defErr(d.Services[0].Line, "services: stage 2 brings them in with cp and mv, and the image has no %s: add %s to commands (or declare the services under rc:)", c, c)
			}
		}
	}
	if len(d.Stage2.Modules) > 0 && !r.have["modprobe"] {
		return r.defErr(d.Stage2.Modules[0].Line, "stage2: modules: the image needs the modprobe command to load them: add modprobe to commands")
	}
	return nil
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

// serviceNames returns the services' names in definition order.
func serviceNames(s []ServiceDir) []string {
	var out []string
	for _, x := range s {
		out = append(out, x.Name)
	}
	return out
}
