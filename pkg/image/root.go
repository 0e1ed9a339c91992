package image

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/bootfs"
)

// RootDef is the definition's root: section, the real root the image
// hands over to (docs/booting-a-real-root.md). Each key is a kernel
// parameter written into /etc/svinit/cmdline, so the kernel's own
// command line still wins.
type RootDef struct {
	Device Word `yaml:"device"` // root=: /dev/NAME, UUID=, LABEL=, PARTUUID=, PARTLABEL=
	FSType Word `yaml:"fstype"` // rootfstype=
	Flags  Word `yaml:"flags"`  // rootflags=
	RW     Word `yaml:"rw"`     // true: rw; false: ro
	Wait   Word `yaml:"wait"`   // true: rootwait
	Delay  Word `yaml:"delay"`  // rootdelay= (seconds)
	Init   Word `yaml:"init"`   // init=
	Keep   Word `yaml:"keep"`   // true: svinit.keep (keep supervising)
}

// validate checks the root: section.
func (r RootDef) validate(errf func(line int, format string, a ...any) *Error) *Error {
	if v := r.Device; v.Value != "" {
		if err := bootfs.ValidRootSpec(v.Value); err != nil {
			return errf(v.Line, "root: device: %q: %v", v.Value, err)
		}
	}
	for _, w := range []struct {
		key string
		w   Word
	}{{"device", r.Device}, {"fstype", r.FSType}, {"flags", r.Flags}, {"init", r.Init}} {
		if strings.ContainsAny(w.w.Value, "\"\n\x00") {
			return errf(w.w.Line, "root: %s: %q: no quotes or newlines (it goes on the kernel command line)", w.key, w.w.Value)
		}
	}
	for _, b := range []struct {
		key string
		w   Word
	}{{"rw", r.RW}, {"wait", r.Wait}, {"keep", r.Keep}} {
		if v := b.w.Value; v != "" && v != "true" && v != "false" {
			return errf(b.w.Line, "root: %s: %q: want true or false", b.key, v)
		}
	}
	if v := r.Delay; v.Value != "" {
		if n, err := strconv.Atoi(v.Value); err != nil || n < 0 || n > bootfs.MaxRootDelay {
			return errf(v.Line, "root: delay: %q: want seconds between 0 and %d", v.Value, bootfs.MaxRootDelay)
		}
	}
	if v := r.Init; v.Value != "" && !strings.HasPrefix(v.Value, "/") {
		return errf(v.Line, "root: init: %q: want an absolute path in the real root", v.Value)
	}
	return nil
}

// Params returns the kernel parameters the section stands for, quoted
// as the kernel reads them when a value holds a blank.
func (r RootDef) Params() []string {
	var out []string
	add := func(key, val string) {
		if val == "" {
			return
		}
		p := key + "=" + val
		if strings.ContainsAny(val, " \t") {
			p = fmt.Sprintf("%s=%q", key, val)
		}
		out = append(out, p)
	}
	add("root", r.Device.Value)
	add("rootfstype", r.FSType.Value)
	add("rootflags", r.Flags.Value)
	switch r.RW.Value {
	case "true":
		out = append(out, "rw")
	case "false":
		out = append(out, "ro")
	}
	if r.Wait.Value == "true" {
		out = append(out, "rootwait")
	}
	add("rootdelay", r.Delay.Value)
	add("init", r.Init.Value)
	if r.Keep.Value == "true" {
		out = append(out, "svinit.keep")
	}
	return out
}

// CmdlineDefaults is the content of /etc/svinit/cmdline: the root:
// section's parameters, then cmdline:.
func (d *Definition) CmdlineDefaults() string {
	p := d.Root.Params()
	if c := strings.TrimSpace(d.Cmdline.Value); c != "" {
		p = append(p, c)
	}
	return strings.Join(p, " ")
}
