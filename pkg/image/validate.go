package image

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/svinit/svinit/pkg/execline"
	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
)

var (
	serviceName  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$`)
	commandWord  = regexp.MustCompile(`^[A-Za-z0-9_.~/-]+$`)
	hostnameRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$`)
	moduleNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// check validates what can be validated without the file system.
func (d *Definition) check() *Error {
	errf := func(line int, format string, a ...any) *Error {
		return &Error{Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	seenCmd := map[string]int{}
	for _, c := range d.Commands {
		if c.Value == "" || !commandWord.MatchString(c.Value) || strings.Contains(c.Value, "..") {
			return errf(c.Line, "commands: %q is not a command name or Go package path: write a u-root command (ls) or an import path (github.com/u-root/u-root/cmds/core/ls)", c.Value)
		}
		if l, ok := seenCmd[c.Value]; ok {
			return errf(c.Line, "commands: %q listed twice (first on line %d): remove one", c.Value, l)
		}
		seenCmd[c.Value] = c.Line
	}
	seenSvc := map[string]int{}
	for _, list := range [][]Service{d.EarlyServices, d.Services} {
		for _, s := range list {
			if !serviceName.MatchString(s.Name) {
				return errf(s.Line, "service name %q: use letters, digits and _ . @ + - (not starting with . or -)", s.Name)
			}
			if l, ok := seenSvc[s.Name]; ok {
				return errf(s.Line, "service %q listed twice (first on line %d): a service is early or staged, once", s.Name, l)
			}
			seenSvc[s.Name] = s.Line
		}
	}
	for _, s := range d.Stage2.WaitReady {
		if _, ok := seenSvc[s.Value]; !ok {
			return errf(s.Line, "stage2: wait_ready: %q is not one of the image's services: add it to early_services or services, or drop it", s.Value)
		}
	}
	if b := d.Rc.Bundle; b.Value != "" && len(d.Rc.From) == 0 {
		return errf(b.Line, "rc: bundle %q without from: name the directories of service definitions", b.Value)
	}
	if w := d.Stage2.WaitTimeout; w.Value != "" {
		if n, err := strconv.ParseUint(w.Value, 10, 31); err != nil || n == 0 {
			return errf(w.Line, "stage2: wait_timeout: %q is not a positive number of milliseconds", w.Value)
		}
	}
	for _, m := range append(append([]Word(nil), d.Modules.Include...), d.Stage2.Modules...) {
		if !moduleNameRe.MatchString(m.Value) {
			return errf(m.Line, "module name %q: use letters, digits, _ and -", m.Value)
		}
	}
	if len(d.Modules.Include)+len(d.Stage2.Modules) > 0 && d.Kernel.Value == "" {
		line := d.Modules.Line
		if line == 0 && len(d.Stage2.Modules) > 0 {
			line = d.Stage2.Modules[0].Line
		}
		return errf(line, "modules need a kernel: key naming a /lib/modules/VERSION tree, a root holding lib/modules, or a .deb")
	}
	if a := d.Modules.Aliases; a.Value != "" && a.Value != "included" && a.Value != "all" {
		return errf(a.Line, "modules: aliases: %q: want included or all", a.Value)
	}
	if c := d.Compression; c.Value != "" {
		ok := false
		for _, k := range compress.Compressions {
			ok = ok || k == c.Value
		}
		if !ok {
			return errf(c.Line, "compression: unknown %q (want one of %s)", c.Value, strings.Join(compress.Compressions, ", "))
		}
	}
	if h := d.Hostname; h.Value != "" && !hostnameRe.MatchString(h.Value) {
		return errf(h.Line, "hostname: %q is not a valid host name: use labels of letters, digits and - (not first), at most 63 each, joined by dots", h.Value)
	}
	if c := d.Cmdline; strings.ContainsAny(c.Value, "\n\x00") {
		return errf(c.Line, "cmdline: must be one line")
	}
	if err := d.Root.validate(errf); err != nil {
		return err
	}
	seenDst := map[string]int{}
	for _, f := range d.Files {
		if f.Dst.Value == "" {
			return errf(f.Line, "files: every entry needs dst (where in the image)")
		}
		if (f.Src.Value == "") == (f.Content.Line == 0) {
			return errf(f.Line, "files: %s: give exactly one of src (a host file or directory) or content", f.Dst.Value)
		}
		dst, err := cpio.CleanName(f.Dst.Value)
		if err != nil {
			return errf(f.Dst.Line, "files: dst: %v", err)
		}
		if l, ok := seenDst[dst]; ok {
			return errf(f.Dst.Line, "files: /%s listed twice (first on line %d): keep one", dst, l)
		}
		seenDst[dst] = f.Dst.Line
		if f.Mode.Value != "" {
			if _, err := ParseMode(f.Mode.Value); err != nil {
				return errf(f.Mode.Line, "files: %s: mode: %v", f.Dst.Value, err)
			}
		}
	}
	for _, m := range d.Stage2.Mounts {
		if m.Type.Value == "" || m.Target.Value == "" {
			return errf(m.Line, "stage2: mounts: every mount needs type and target")
		}
		for _, w := range []Word{m.Type, m.Source, m.Target, m.Options} {
			if strings.ContainsAny(w.Value, " \t\n\"{}") {
				return errf(w.Line, "stage2: mounts: %q: no blanks, quotes or braces allowed", w.Value)
			}
		}
		if !strings.HasPrefix(m.Target.Value, "/") {
			return errf(m.Target.Line, "stage2: mounts: target %q must be an absolute path", m.Target.Value)
		}
	}
	for _, r := range d.Stage2.Run {
		if strings.TrimSpace(r.Value) == "" || strings.ContainsAny(r.Value, "\n") {
			return errf(r.Line, "stage2: run: each entry is one non-empty execline command line")
		}
		if err := inBlock(r.Value); err != nil {
			return errf(r.Line, "stage2: run: %q: %v", r.Value, err)
		}
	}
	return nil
}

// inBlock checks that an execline command line stays one command when
// stage 2 puts it in a block ("foreground { LINE }"): it parses, and
// neither a comment nor an unbalanced brace swallows or ends the block.
func inBlock(line string) error {
	words, err := execline.Parse("stage2", []byte("foreground { "+line+" }\ntrue\n"))
	if err != nil {
		if strings.Contains(line, "#") {
			return fmt.Errorf("a # starts a comment that would hide the end of stage 2's block: quote it (\"#\") or drop it")
		}
		return fmt.Errorf("not an execline command line: %v", err)
	}
	n := len(words)
	ok := n >= 4 && words[0] == "foreground" && words[n-2] == "" && words[n-1] == "true"
	for _, w := range words[1 : n-2] {
		ok = ok && strings.HasPrefix(w, " ")
	}
	if !ok {
		return fmt.Errorf("unbalanced { } or a # comment: it would not stay one command in stage 2's block")
	}
	return nil
}

// ParseMode parses an octal permission like "0644" or "755".
func ParseMode(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, fmt.Errorf("%q is not an octal permission between 0 and 7777", s)
	}
	return uint32(v), nil
}
