package plan

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// OptInCommands are this repository's commands (cmds/NAME) that an image
// has only when its definition names them in commands:, each with what
// makes it heavy. Every other command of cmds/ is core: in every image's
// busybox. This map is the one place the split is decided; a command goes
// here when it links dependencies a small image (a LinuxBoot payload in a
// flash budget) should not pay for. TestCoreDependencies fails when a core
// command links a module that is not one of coreModules: a new dependency
// of a core command is then either accepted there or its command made
// opt-in here.
var OptInCommands = map[string]string{
	"svnetd":    "DHCP and netlink: insomniacslk/dhcp, vishvananda/netlink",
	"svsshd":    "SSH: golang.org/x/crypto/ssh, pkg/sftp, creack/pty",
	"svnetboot": "netboot: u-root's pkg/boot, curl (TFTP, HTTP), dhclient",
	"svboot":    "boot menu: u-root's pkg/boot (GRUB, syslinux, BLS parsers, kexec)",
}

// binDirs are the directories a script may name a command by: /bin/NAME
// runs the image's NAME (see the layout in images/README.md).
var binDirs = map[string]bool{"/bin": true, "/sbin": true, "/bbin": true, "/usr/bin": true, "/usr/sbin": true}

// checkOptIn fails when a script the image carries (a service directory's
// files, the scan directory hooks, stage 2, the shutdown hook) runs an
// opt-in command the image leaves out: it would fail at boot with "not
// found" instead of here.
func (r *resolver) checkOptIn() error {
	p := r.Plan
	missing := map[string]bool{}
	for n := range r.optIn {
		if !r.have[n] {
			missing[n] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	d := p.Def
	fix := func(what, file string, line int, name string) string {
		return fmt.Sprintf("%s: %s:%d runs %s, an opt-in command (%s) the image leaves out: add %s to commands",
			what, p.rel(file), line, name, OptInCommands[name], name)
	}
	type dirs struct {
		what string
		line int
		src  string
	}
	var check []dirs
	for i, s := range p.Early {
		check = append(check, dirs{fmt.Sprintf("early_services: %q", s.Name), d.EarlyServices[i].Line, s.Src})
	}
	for i, s := range p.Services {
		check = append(check, dirs{fmt.Sprintf("services: %q", s.Name), d.Services[i].Line, s.Src})
	}
	for _, s := range p.Rc {
		line := 0
		for _, w := range d.Rc.From {
			dir := p.abs(w.Value)
			if filepath.Dir(s.Src) == filepath.Clean(dir) {
				line = w.Line
				break
			}
		}
		check = append(check, dirs{fmt.Sprintf("rc: service %q", s.Name), line, s.Src})
	}
	if p.Hooks != "" {
		check = append(check, dirs{"scandir_hooks", d.ScandirHooks.Line, p.Hooks})
	}
	if p.Stage2Script != "" {
		check = append(check, dirs{"stage2: script", d.Stage2.Script.Line, p.Stage2Script})
	}
	if p.ShutdownHook != "" {
		check = append(check, dirs{"shutdown_hook", d.ShutdownHook.Line, p.ShutdownHook})
	}
	for _, c := range check {
		file, line, name, err := findCall(c.src, missing)
		if err != nil {
			return p.defErr(c.line, "%s: %v", c.what, err)
		}
		if name != "" {
			return p.defErr(c.line, "%s", fix(c.what, file, line, name))
		}
	}
	for _, r := range d.Stage2.Run {
		if name := callIn(r.Value, missing); name != "" {
			return p.defErr(r.Line, "stage2: run: %q runs %s, an opt-in command (%s) the image leaves out: add %s to commands",
				r.Value, name, OptInCommands[name], name)
		}
	}
	return nil
}

// findCall looks through the regular text files at or under src for a
// line running one of names, and returns the first found (files in lexical
// order). Binary files (holding a NUL byte) are skipped.
func findCall(src string, names map[string]bool) (file string, line int, name string, err error) {
	err = filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) >= 0 {
			return nil
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, len(data)+1)
		for n := 1; sc.Scan(); n++ {
			if c := callIn(sc.Text(), names); c != "" {
				file, line, name = p, n, c
				return fs.SkipAll
			}
		}
		return sc.Err()
	})
	return file, line, name, err
}

// callIn returns the first of names a script line runs: a word that is
// the command's name, or its path in one of the image's bin directories.
// Words are what is between blanks, quotes and the execline and shell
// punctuation; a comment line (starting with #, except the interpreter of
// a #! line) runs nothing.
func callIn(line string, names map[string]bool) string {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "#!") {
		line = strings.TrimPrefix(line, "#!")
	} else if strings.HasPrefix(line, "#") {
		return ""
	}
	words := strings.FieldsFunc(line, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("{}()[];|&\"'`<>=", r)
	})
	for _, w := range words {
		if names[w] {
			return w
		}
		if b := path.Base(w); names[b] && binDirs[path.Dir(w)] {
			return b
		}
	}
	return ""
}

// optInNames returns the names of the opt-in commands, sorted.
func optInNames(optIn map[string]Command) []string {
	var out []string
	for n := range optIn {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
