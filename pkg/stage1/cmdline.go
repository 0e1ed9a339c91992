package stage1

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/kcmdline"
)

// Cmdline holds the kernel command line parameters svinit reads.
type Cmdline struct {
	Stage2   string // svinit.stage2=PATH ("" = the default)
	Debug    bool   // svinit.debug: verbose stage-1 messages on the console
	Rescue   bool   // svinit.rescue: a rescue shell instead of the normal boot
	Hostname string // svinit.hostname= (wins) or hostname=
	GraceMS  int    // svinit.grace=MS for the final stage; -1 when not given

	// Warnings lists parameters svinit recognised but could not use.
	Warnings []string
}

// MaxHostname is the kernel's limit on the host name length.
const MaxHostname = 64

// SplitCmdline splits a kernel command line into parameters; see
// kcmdline.Split.
func SplitCmdline(s string) []string { return kcmdline.Split(s) }

// ParseCmdline extracts svinit's parameters from a kernel command line.
// Unknown parameters are ignored; a later occurrence wins over an earlier
// one; svinit.hostname= wins over hostname= wherever they appear.
func ParseCmdline(s string) Cmdline { return ParseParams(SplitCmdline(s)) }

// DefaultsFile holds the image's default parameters (one line, written
// by the generator); they count as if they came first on the kernel
// command line, so the kernel's own parameters win.
const DefaultsFile = "/etc/svinit/cmdline"

// ReadCmdline parses root's DefaultsFile followed by its /proc/cmdline
// (either may be missing).
func ReadCmdline(root string) Cmdline {
	var params []string
	for _, p := range []string{DefaultsFile, "/proc/cmdline"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err == nil {
			params = append(params, SplitCmdline(string(b))...)
		}
	}
	return ParseParams(params)
}

// ParseParams is ParseCmdline on parameters already split.
func ParseParams(params []string) Cmdline {
	c := Cmdline{GraceMS: -1}
	var plainHost, svHost string
	var haveSvHost bool
	for _, p := range params {
		key, val, hasVal := strings.Cut(p, "=")
		switch key {
		case "svinit.stage2":
			if val == "" {
				c.Warnings = append(c.Warnings, "svinit.stage2: empty path ignored")
				continue
			}
			c.Stage2 = val
		case "svinit.debug":
			c.Debug = boolParam(&c, key, val, hasVal)
		case "svinit.rescue":
			c.Rescue = boolParam(&c, key, val, hasVal)
		case "svinit.grace":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 3600000 {
				c.Warnings = append(c.Warnings, fmt.Sprintf("svinit.grace=%q: want milliseconds between 0 and 3600000; ignored", val))
				continue
			}
			c.GraceMS = n
		case "hostname":
			plainHost = val
		case "svinit.hostname":
			svHost, haveSvHost = val, true
		}
	}
	h := plainHost
	if haveSvHost {
		h = svHost
	}
	if h != "" {
		if err := ValidHostname(h); err != nil {
			c.Warnings = append(c.Warnings, "hostname from the command line: "+err.Error()+"; ignored")
		} else {
			c.Hostname = h
		}
	}
	return c
}

func boolParam(c *Cmdline, key, val string, hasVal bool) bool {
	if !hasVal {
		return true
	}
	switch strings.ToLower(val) {
	case "", "1", "y", "yes", "true", "on":
		return true
	case "0", "n", "no", "false", "off":
		return false
	}
	c.Warnings = append(c.Warnings, fmt.Sprintf("%s=%q: want 0 or 1; taken as 1", key, val))
	return true
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
