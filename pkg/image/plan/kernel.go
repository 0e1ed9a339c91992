package plan

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/kmod/depmod"
)

// kernel finds the kernel's module tree (unpacking a .deb) and computes
// the closure of the modules the definition names.
func (r *resolver) kernel() error {
	d, s := r.Def, r.Settings
	names := append([]image.Word(nil), d.Modules.Include...)
	names = append(names, d.Stage2.Modules...)
	if s.Kernel == "" || (len(names) == 0 && !s.AllAliases) {
		return nil
	}
	// Errors name where the kernel came from: the definition's line, or
	// the -k option.
	kernelErr := func(format string, a ...any) error {
		if s.KernelOverridden {
			return &image.Error{File: d.File, Msg: "-k: " + fmt.Sprintf(format, a...)}
		}
		return r.defErr(d.Kernel.Line, "kernel: "+format, a...)
	}
	src := r.abs(s.Kernel)
	if strings.HasSuffix(src, ".deb") {
		tmp, err := os.MkdirTemp("", "mkimage-deb-")
		if err != nil {
			return err
		}
		r.cleanup = append(r.cleanup, tmp)
		if err := extractDebModules(src, tmp); err != nil {
			return kernelErr("%v", err)
		}
		src = tmp
	}
	mdir, err := depmod.FindModulesDir(src)
	if err != nil {
		return kernelErr("%v (for the Debian kernel run scripts/kernel.sh or make kernel)", err)
	}
	if r.Tree, err = depmod.Open(mdir); err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := r.Tree.Path(n.Value); !ok && !r.Tree.Builtin(n.Value) {
			if _, err := r.Tree.Resolve([]string{n.Value}, false); err != nil {
				return r.defErr(n.Line, "modules: %v", err)
			}
		}
	}
	var ns []string
	for _, n := range names {
		ns = append(ns, n.Value)
	}
	if r.Modules, err = r.Tree.Resolve(ns, true); err != nil {
		return r.defErr(d.Modules.Line, "modules: %v", err)
	}
	return nil
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
