package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/kmod/depmod"
)

// Parts of an image, for the size summary.
const (
	PartBase     = "base"
	PartBusybox  = "busybox"
	PartServices = "services"
	PartModules  = "modules"
	PartFiles    = "files"
)

// layout is Resolve's last step: it lays the image out in p.Image, all
// but the busybox binary: the directory skeleton and device nodes, /init
// and the /bin and /bbin links, service directories, stage 2, the
// shutdown hook, kernel modules with their indexes, /etc files and the
// definition's extra files. A path two of them produce differently is a
// definition error, found before anything is built.
func (p *Plan) layout() error {
	a := cpio.NewArchive()
	steps := []func(*cpio.Archive) error{p.layoutBase, p.layoutCommands, p.layoutServices, p.layoutRc, p.layoutModules, p.layoutFiles}
	for _, s := range steps {
		if err := s(a); err != nil {
			if _, ok := err.(*image.Error); ok {
				return err
			}
			return &image.Error{File: p.Def.File, Msg: err.Error()}
		}
	}
	p.Image = a
	return nil
}

// Layout returns the image: the plan's, with the busybox's entries
// added (the binary; its links, /init and /bin/sh are the plan's
// already, and the busybox's must agree). It does no I/O and leaves the
// plan's image as it was.
func (p *Plan) Layout(busybox []*cpio.Entry) (*cpio.Archive, error) {
	a := p.Image.Clone()
	for _, e := range busybox {
		if err := a.Add(e); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (p *Plan) layoutBase(a *cpio.Archive) error {
	for _, dir := range []struct {
		name string
		perm uint32
	}{
		{"bin", 0o755}, {"bbin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"etc/svinit", 0o755},
		{"lib", 0o755}, {"mnt", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"run", 0o755},
		{"root", 0o700}, {"tmp", 0o1777}, {"usr", 0o755}, {"var", 0o755}, {"var/log", 0o755},
	} {
		if err := a.Dir(dir.name, dir.perm, PartBase); err != nil {
			return err
		}
	}
	for _, l := range [][2]string{{"sbin", "bin"}, {"usr/bin", "../bin"}, {"usr/sbin", "../bin"}, {"var/run", "../run"}} {
		if err := a.Symlink(l[0], l[1], PartBase); err != nil {
			return err
		}
	}
	// The kernel opens /dev/console for init before anything is mounted.
	for _, n := range []cpio.Entry{
		{Name: bootfs.Rel(bootfs.Console), Mode: cpio.TypeChar | 0o600, Major: 5, Minor: 1},
		{Name: "dev/null", Mode: cpio.TypeChar | 0o666, Major: 1, Minor: 3},
	} {
		n := n
		n.Part = PartBase
		if err := a.Add(&n); err != nil {
			return err
		}
	}
	etc := []struct {
		name string
		perm uint32
		data string
	}{
		{bootfs.Rel(bootfs.HostnameFile), 0o644, p.Settings.Hostname + "\n"},
		{"etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", 0o644, "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"},
		{"etc/shells", 0o644, "/bin/sh\n"},
	}
	if c := p.Def.CmdlineDefaults(); c != "" {
		etc = append(etc, struct {
			name string
			perm uint32
			data string
		}{bootfs.Rel(bootfs.CmdlineFile), 0o644, c + "\n"})
	}
	for _, f := range etc {
		if err := a.File(f.name, f.perm, []byte(f.data), PartBase); err != nil {
			return err
		}
	}
	return nil
}

// layoutCommands lays out the links the busybox build makes too
// (/bbin/NAME, /init, /bin/sh) and /bin/NAME.
func (p *Plan) layoutCommands(a *cpio.Archive) error {
	for _, c := range p.Commands {
		if err := a.Symlink("bbin/"+c.Name, "bb", PartBusybox); err != nil {
			return err
		}
		if err := a.Symlink("bin/"+c.Name, "../bbin/"+c.Name, PartBusybox); err != nil {
			return err
		}
	}
	if err := a.Symlink(bootfs.Rel(bootfs.Init), "bbin/"+p.Settings.Init, PartBusybox); err != nil {
		return err
	}
	return a.Symlink("bin/sh", "../bbin/"+p.Settings.Shell, PartBusybox)
}

func (p *Plan) layoutServices(a *cpio.Archive) error {
	seed, services := bootfs.Rel(bootfs.SeedScandir), bootfs.Rel(bootfs.ServicesDir)
	if err := a.Dir(seed, 0o755, PartServices); err != nil {
		return err
	}
	for _, s := range p.Early {
		if err := a.AddTree(s.Src, seed+"/"+s.Name, PartServices); err != nil {
			return err
		}
	}
	if p.Hooks != "" {
		if err := a.AddTree(p.Hooks, seed+"/.s6-svscan", PartServices); err != nil {
			return err
		}
	}
	if len(p.Services) > 0 {
		if err := a.Dir(services, 0o755, PartServices); err != nil {
			return err
		}
	}
	for _, s := range p.Services {
		if err := a.AddTree(s.Src, services+"/"+s.Name, PartServices); err != nil {
			return err
		}
	}
	var stage2 []byte
	if p.Stage2Script != "" {
		b, err := os.ReadFile(p.Stage2Script)
		if err != nil {
			return err
		}
		stage2 = b
	} else {
		dirs := map[string]string{}
		for _, sd := range append(append([]ServiceDir(nil), p.Early...), p.Services...) {
			dirs[sd.Name] = sd.Src
		}
		notifies := func(name string) bool {
			_, err := os.Stat(filepath.Join(dirs[name], "notification-fd"))
			return err == nil
		}
		stage2 = []byte(GenerateStage2(p.Def, serviceNames(p.Services), notifies))
	}
	if err := a.Add(&cpio.Entry{Name: bootfs.Rel(bootfs.Stage2), Mode: cpio.TypeRegular | 0o755, Data: stage2, Part: PartServices, Src: "stage2"}); err != nil {
		return err
	}
	if p.ShutdownHook != "" {
		b, err := os.ReadFile(p.ShutdownHook)
		if err != nil {
			return err
		}
		if err := a.Add(&cpio.Entry{Name: bootfs.Rel(bootfs.ShutdownHook), Mode: cpio.TypeRegular | 0o755, Data: b, Part: PartServices, Src: p.ShutdownHook}); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) layoutModules(a *cpio.Archive) error {
	if p.Tree == nil {
		return nil
	}
	base := "lib/modules/" + p.Tree.Version()
	if err := a.Dir(base, 0o755, PartModules); err != nil {
		return err
	}
	var infos []*depmod.Info
	set := p.Modules
	if set == nil {
		set = &depmod.Set{}
	}
	for _, m := range set.Modules {
		src := filepath.Join(p.Tree.Dir(), filepath.FromSlash(m.Path))
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		if err := a.Add(&cpio.Entry{Name: base + "/" + m.Path, Mode: cpio.TypeRegular | 0o644, Host: src, HostSize: st.Size(), Part: PartModules, Src: src}); err != nil {
			return err
		}
		infos = append(infos, m.Info)
	}
	aliasInfos := infos
	if p.Settings.AllAliases {
		all, err := p.Tree.AllInfos()
		if err != nil {
			return err
		}
		aliasInfos = all
	}
	var dep, alias, soft bytes.Buffer
	if err := depmod.WriteDep(&dep, set); err != nil {
		return err
	}
	if err := depmod.WriteAlias(&alias, depmod.AliasesOf(aliasInfos)); err != nil {
		return err
	}
	if err := depmod.WriteSoftdep(&soft, infos); err != nil {
		return err
	}
	files := map[string][]byte{"modules.dep": dep.Bytes(), "modules.alias": alias.Bytes(), "modules.softdep": soft.Bytes()}
	if b, err := os.ReadFile(filepath.Join(p.Tree.Dir(), "modules.builtin")); err == nil {
		files["modules.builtin"] = b
	}
	for name, data := range files {
		if err := a.File(base+"/"+name, 0o644, data, PartModules); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) layoutFiles(a *cpio.Archive) error {
	for _, f := range p.Def.Files {
		dst, _ := cpio.CleanName(f.Dst.Value)
		var mode uint32
		if f.Mode.Value != "" {
			mode, _ = image.ParseMode(f.Mode.Value)
		}
		if f.Src.Value == "" {
			perm := uint32(0o644)
			if f.Mode.Value != "" {
				perm = mode
			}
			if err := a.Add(&cpio.Entry{Name: dst, Mode: cpio.TypeRegular | perm, Data: []byte(f.Content.Value), Part: PartFiles, Src: fmt.Sprintf("%s:%d", p.Def.File, f.Line)}); err != nil {
				return err
			}
			continue
		}
		if err := a.AddTree(p.abs(f.Src.Value), dst, PartFiles); err != nil {
			return err
		}
		if f.Mode.Value != "" {
			e, _ := a.Get(dst)
			e.Mode = e.Mode&cpio.TypeMask | mode
		}
	}
	return nil
}
