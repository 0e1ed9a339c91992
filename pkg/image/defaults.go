package image

import "github.com/svinit/svinit/pkg/image/compress"

// Defaults of the keys a definition may leave out, and of mkimage's
// arguments: this is the one place they are set (images/README.md
// describes them).
const (
	DefaultDefinition  = "images/default.yaml" // mkimage without a definition argument
	DefaultInit        = "uinit"               // init:
	DefaultShell       = "gosh"                // shell:
	DefaultHostname    = "svinit"              // hostname:
	DefaultCompression = "xz"                  // compression:
	DefaultOutputBase  = "out/initramfs.cpio"  // output:, with the compression's suffix
	DefaultRcBundle    = "default"             // rc: bundle:
	DefaultWaitTimeout = "10000"               // stage2: wait_timeout: (milliseconds)
	DefaultAliases     = "included"            // modules: aliases:
)

// Overrides are mkimage's options that win over the definition's keys:
// -c, -o and -k. Empty fields override nothing.
type Overrides struct {
	Compression string
	Output      string // absolute, or relative to the repository root
	Kernel      string
}

// Settings are the definition's single-valued keys with the overrides
// and the defaults applied: what the image is made with.
type Settings struct {
	Init        string // the command /init runs
	Shell       string // the command /bin/sh runs
	Hostname    string
	Compression string
	Output      string // as given (relative to the repository root unless absolute)
	// Kernel is where modules come from ("" for none); KernelOverridden
	// says it came from -k, not kernel: (errors name the option).
	Kernel           string
	KernelOverridden bool
	AllAliases       bool   // modules: aliases: all
	RcBundle         string // what stage 2 brings up when rc: has from:
	WaitTimeout      string // stage 2's svwait timeout, milliseconds
}

// Settings applies o and the defaults to the definition's keys.
func (d *Definition) Settings(o Overrides) Settings {
	or := func(v ...string) string {
		for _, s := range v {
			if s != "" {
				return s
			}
		}
		return ""
	}
	s := Settings{
		Init:        or(d.Init.Value, DefaultInit),
		Shell:       or(d.Shell.Value, DefaultShell),
		Hostname:    or(d.Hostname.Value, DefaultHostname),
		Compression: or(o.Compression, d.Compression.Value, DefaultCompression),
		Kernel:      or(o.Kernel, d.Kernel.Value),
		AllAliases:  or(d.Modules.Aliases.Value, DefaultAliases) == "all",
		RcBundle:    or(d.Rc.Bundle.Value, DefaultRcBundle),
		WaitTimeout: or(d.Stage2.WaitTimeout.Value, DefaultWaitTimeout),
	}
	s.KernelOverridden = o.Kernel != ""
	s.Output = or(o.Output, d.Output.Value, DefaultOutputBase+compress.Suffix(s.Compression))
	return s
}
