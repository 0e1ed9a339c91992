package bootfs

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/kcmdline"
)

// Cmdline holds the kernel command-line parameters svinit reads. The
// kernel's own splitting rules are pkg/kcmdline's; what each parameter
// means is here, one entry of params per parameter.
type Cmdline struct {
	Stage2   string // svinit.stage2=PATH ("" = Stage2)
	Debug    bool   // svinit.debug: verbose stage-1 messages on the console
	Rescue   bool   // svinit.rescue: a rescue shell instead of the normal boot
	Hostname string // svinit.hostname= (wins) or hostname=
	GraceMS  int    // svinit.grace=MS for the final stage; -1 when not given

	// The boot menu (svboot, docs/svboot.md): the entry to boot without
	// asking, by title or number, and the menu's countdown.
	Boot           string // svinit.boot=TITLE|NUMBER
	BootTimeout    int    // svinit.boot.timeout=SECONDS
	HasBootTimeout bool   // svinit.boot.timeout= was given
	// Network boot (svnetboot, docs/svnetboot.md): a boot file's URL
	// instead of the lease's, or "off".
	Netboot string // svinit.netboot=URL|off

	// The real root (docs/booting-a-real-root.md); see Root.
	Root Root
	// Keep: svinit.keep, keep supervising across the switch to the
	// real root instead of handing over to its init.
	Keep bool
	// S6: svinit.s6, s6's exact behaviour: svscan runs with -B and -C
	// (no restart backoff, no cgroup per service).
	S6 bool

	// Warnings lists parameters svinit recognised but could not use.
	Warnings []string
}

// MaxHostname is the kernel's limit on the host name length.
const MaxHostname = 64

// MaxGraceMS bounds svinit.grace= (an hour).
const MaxGraceMS = 3600000

// MaxBootTimeout bounds svinit.boot.timeout= (an hour).
const MaxBootTimeout = 3600

// A param is one parameter svinit reads: its name (the part before any
// "=") and what it does with the value. hasVal tells "name" from
// "name=" (an empty value).
type param struct {
	name string
	set  func(p *parser, val string, hasVal bool)
}

// params are svinit's parameters. A parameter given twice is set twice:
// the later occurrence wins. Parameters that depend on each other
// (svinit.hostname= over hostname=) are resolved in parser.done.
var params = []param{
	{"svinit.stage2", func(p *parser, val string, _ bool) {
		if val == "" {
			p.warn("svinit.stage2: empty path ignored")
			return
		}
		p.c.Stage2 = val
	}},
	{"svinit.debug", func(p *parser, val string, hasVal bool) { p.c.Debug = p.flag("svinit.debug", val, hasVal) }},
	{"svinit.rescue", func(p *parser, val string, hasVal bool) { p.c.Rescue = p.flag("svinit.rescue", val, hasVal) }},
	{"svinit.grace", func(p *parser, val string, _ bool) {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > MaxGraceMS {
			p.warn(fmt.Sprintf("svinit.grace=%q: want milliseconds between 0 and %d; ignored", val, MaxGraceMS))
			return
		}
		p.c.GraceMS = n
	}},
	{"svinit.boot", func(p *parser, val string, _ bool) {
		if val == "" {
			p.warn("svinit.boot: empty entry ignored")
			return
		}
		p.c.Boot = val
	}},
	{"svinit.boot.timeout", func(p *parser, val string, _ bool) {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > MaxBootTimeout {
			p.warn(fmt.Sprintf("svinit.boot.timeout=%q: want seconds between 0 and %d; ignored", val, MaxBootTimeout))
			return
		}
		p.c.BootTimeout, p.c.HasBootTimeout = n, true
	}},
	{"svinit.netboot", func(p *parser, val string, _ bool) {
		if val == "" {
			p.warn("svinit.netboot: empty value ignored (want a URL or off)")
			return
		}
		p.c.Netboot = val
	}},
	{"hostname", func(p *parser, val string, _ bool) { p.plainHost = val }},
	{"svinit.hostname", func(p *parser, val string, _ bool) { p.svHost, p.haveSvHost = val, true }},
	// The kernel's own root parameters, read as the kernel reads them
	// (docs/booting-a-real-root.md).
	{"root", func(p *parser, val string, _ bool) {
		if err := ValidRootSpec(val); err != nil {
			p.warn("root=" + val + ": " + err.Error() + "; ignored")
			return
		}
		p.c.Root.Spec = val
	}},
	{"rootfstype", func(p *parser, val string, _ bool) { p.c.Root.FSType = val }},
	{"rootflags", func(p *parser, val string, _ bool) { p.c.Root.Flags = val }},
	{"ro", func(p *parser, _ string, _ bool) { p.c.Root.ReadWrite = false }},
	{"rw", func(p *parser, _ string, _ bool) { p.c.Root.ReadWrite = true }},
	{"rootwait", func(p *parser, val string, hasVal bool) { p.c.Root.Wait = p.flag("rootwait", val, hasVal) }},
	{"rootdelay", func(p *parser, val string, _ bool) {
		n, err := strconv.Atoi(val)
		if err != nil || n < 0 || n > MaxRootDelay {
			p.warn(fmt.Sprintf("rootdelay=%q: want seconds between 0 and %d; ignored", val, MaxRootDelay))
			return
		}
		p.c.Root.Delay, p.c.Root.HasDelay = n, true
	}},
	{"svinit.keep", func(p *parser, val string, hasVal bool) { p.c.Keep = p.flag("svinit.keep", val, hasVal) }},
	{"svinit.s6", func(p *parser, val string, hasVal bool) { p.c.S6 = p.flag("svinit.s6", val, hasVal) }},
	{"init", func(p *parser, val string, _ bool) {
		if !strings.HasPrefix(val, "/") {
			p.warn(fmt.Sprintf("init=%q: want an absolute path in the real root; ignored", val))
			return
		}
		p.c.Root.Init = val
	}},
}

// parser is the state of one ParseParams.
type parser struct {
	c                 Cmdline
	plainHost, svHost string
	haveSvHost        bool
}

func (p *parser) warn(w string) { p.c.Warnings = append(p.c.Warnings, w) }

// flag reads a boolean parameter: "name" alone is true, as are 1, y,
// yes, true and on; 0, n, no, false and off are false; anything else is
// true with a warning.
func (p *parser) flag(key, val string, hasVal bool) bool {
	if !hasVal {
		return true
	}
	switch strings.ToLower(val) {
	case "", "1", "y", "yes", "true", "on":
		return true
	case "0", "n", "no", "false", "off":
		return false
	}
	p.warn(fmt.Sprintf("%s=%q: want 0 or 1; taken as 1", key, val))
	return true
}

// done resolves what depends on more than one parameter.
func (p *parser) done() Cmdline {
	h := p.plainHost
	if p.haveSvHost {
		h = p.svHost
	}
	if h != "" {
		if err := ValidHostname(h); err != nil {
			p.warn("hostname from the command line: " + err.Error() + "; ignored")
		} else {
			p.c.Hostname = h
		}
	}
	return p.c
}

// ParseCmdline extracts svinit's parameters from a kernel command line.
// Unknown parameters are ignored; a later occurrence wins over an earlier
// one; svinit.hostname= wins over hostname= wherever they appear.
func ParseCmdline(s string) Cmdline { return ParseParams(kcmdline.Split(s)) }

// ParseParams is ParseCmdline on parameters already split.
func ParseParams(args []string) Cmdline {
	p := parser{c: Cmdline{GraceMS: -1}}
	for _, a := range args {
		key, val, hasVal := strings.Cut(a, "=")
		if i := slices.IndexFunc(params, func(pm param) bool { return pm.name == key }); i >= 0 {
			params[i].set(&p, val, hasVal)
		}
	}
	return p.done()
}

// ReadCmdline parses root's CmdlineFile followed by its ProcCmdline
// (either may be missing): the image's defaults count as if they came
// first on the kernel command line, so the kernel's own parameters win.
func ReadCmdline(root string) Cmdline {
	var args []string
	for _, p := range []string{CmdlineFile, ProcCmdline} {
		if b, err := os.ReadFile(Under(root, p)); err == nil {
			args = append(args, kcmdline.Split(string(b))...)
		}
	}
	return ParseParams(args)
}

// ValidHostname reports whether h can be given to sethostname(2): not
// empty, at most 64 bytes, no blanks, slashes or control characters.
func ValidHostname(h string) error {
	if h == "" {
		return fmt.Errorf("empty host name")
	}
	if len(h) > MaxHostname {
		return fmt.Errorf("host name %q is longer than %d bytes", h, MaxHostname)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c == 0x7f || c == '/' {
			return fmt.Errorf("host name %q contains a blank, a slash or a control character", h)
		}
	}
	return nil
}
