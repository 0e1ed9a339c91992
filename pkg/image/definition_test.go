package image

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDefinition(t *testing.T) {
	d, err := ParseDefinition([]byte(`
description: test
commands: [gosh, ls, github.com/u-root/u-root/cmds/exp/modprobe]
early_services: [svscan-log, {name: getty, from: some/dir}]
services:
  - ntpd
kernel: .cache/kernel/root
modules:
  include: [virtio_net]
  aliases: all
files:
  - {src: images/motd, dst: /etc/motd, mode: "0600"}
  - dst: /etc/issue
    content: "hello\n"
hostname: box
cmdline: "svinit.debug=1 quiet"
compression: zstd
stage2:
  modules: [virtio_net]
  mounts:
    - {type: 9p, source: host, target: /mnt/host, options: trans=virtio}
  run: ["echo hi"]
  wait_ready: [ntpd]
  wait_timeout: 5000
shutdown_hook: images/hook
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Commands) != 3 || d.Commands[2].Value != "github.com/u-root/u-root/cmds/exp/modprobe" || d.Commands[0].Line != 3 {
		t.Errorf("commands = %+v", d.Commands)
	}
	if d.EarlyServices[1].Name != "getty" || d.EarlyServices[1].From != "some/dir" || d.Services[0].Name != "ntpd" || d.Services[0].Line != 6 {
		t.Errorf("services = %+v %+v", d.EarlyServices, d.Services)
	}
	if d.Modules.Aliases.Value != "all" || d.Modules.Include[0].Value != "virtio_net" {
		t.Errorf("modules = %+v", d.Modules)
	}
	if d.Files[0].Mode.Value != "0600" || d.Files[1].Content.Value != "hello\n" || d.Files[1].Line != 13 {
		t.Errorf("files = %+v", d.Files)
	}
	if d.Stage2.Mounts[0].Options.Value != "trans=virtio" || d.Stage2.Mounts[0].Line != 21 || d.Stage2.WaitTimeout.Value != "5000" {
		t.Errorf("stage2 = %+v", d.Stage2)
	}
	// The list form of modules.
	d, err = ParseDefinition([]byte("kernel: k\nmodules: [a, b-c]\n"), "t.yaml")
	if err != nil || len(d.Modules.Include) != 2 || d.Modules.Include[1].Value != "b-c" {
		t.Errorf("modules list: %+v, %v", d, err)
	}
}

func TestParseDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown top key", "commands: [ls]\ncomands: [cat]\n", `t.yaml:2: unknown key "comands" (did you mean "commands"?)`},
		{"unknown key no near", "zzzzzzzz: 1\n", `t.yaml:1: unknown key "zzzzzzzz" (known keys: cmdline, commands,`},
		{"unknown nested key", "stage2:\n  wait_ready: []\n  wiat: 3\n", `t.yaml:3: stage2: unknown key "wiat" (known keys: modules, mounts, run, script, wait_ready, wait_timeout)`},
		{"unknown key in file", "files:\n  - src: a\n    dst: /b\n    mdoe: 644\n", `t.yaml:4: files: unknown key "mdoe" (did you mean "mode"?)`},
		{"unknown key in service", "services:\n  - {name: a, form: x}\n", `t.yaml:2: services: unknown key "form" (did you mean "from"?)`},
		{"unknown key in modules", "kernel: k\nmodules:\n  includes: [a]\n", `t.yaml:3: modules: unknown key "includes" (did you mean "include"?)`},
		{"duplicate key", "hostname: a\nhostname: b\n", `t.yaml:2: key "hostname" given twice (first on line 1)`},
		{"scalar wanted", "hostname: [a, b]\n", "t.yaml:1: hostname: want a single value, got a list"},
		{"list wanted", "commands: ls\n", "t.yaml:1: commands: want a list, got a scalar"},
		{"mapping wanted", "stage2: [a]\n", "t.yaml:1: stage2: want a mapping, got a list"},
		{"list item not a scalar", "commands: [gosh, [ls]]\n", "t.yaml:1: commands: want a single value, got a list"},
		{"nested scalar wanted", "stage2:\n  mounts:\n    - {type: [9p], target: /m}\n", "t.yaml:3: stage2: mounts: type: want a single value, got a list"},
		{"nested list wanted", "kernel: k\nmodules: {include: a}\n", "t.yaml:2: modules: include: want a list, got a scalar"},
		{"modules shape", "kernel: k\nmodules: a\n", "t.yaml:2: modules: want a list of module names or a mapping"},
		{"unknown key in mount", "stage2:\n  mounts:\n    - {type: 9p, target: /x, opts: a}\n", `t.yaml:3: stage2: mounts: unknown key "opts" (known keys: options, source, target, type)`},
		{"alias value", "hostname: &h x\ncmdline: *h\n", "t.yaml:2: cmdline: YAML aliases are not supported"},
		{"not a mapping", "- a\n- b\n", "t.yaml:1: an image definition is a mapping"},
		{"empty", "", "t.yaml: empty image definition"},
		{"syntax", "commands: [ls\nhostname: x\n", "t.yaml:"},
		{"tab syntax", "a:\n\tb: 1\n", "t.yaml:2: found character that cannot start any token"},
		{"bad compression", "compression: bzip2\n", `t.yaml:1: compression: unknown "bzip2" (want one of none, gzip, xz, zstd, lz4)`},
		{"bad hostname", "hostname: -bad\n", `t.yaml:1: hostname: "-bad" is not a valid host name`},
		{"bad command", "commands: [ls, \"a b\"]\n", `t.yaml:1: commands: "a b" is not a command name`},
		{"duplicate command", "commands:\n  - ls\n  - ls\n", `t.yaml:3: commands: "ls" listed twice (first on line 2)`},
		{"bad service name", "services: [.hidden]\n", `t.yaml:1: service name ".hidden"`},
		{"duplicate service", "early_services: [a]\nservices: [a]\n", `t.yaml:2: service "a" listed twice (first on line 1)`},
		{"wait for unknown", "services: [a]\nstage2:\n  wait_ready: [a, b]\n", `t.yaml:3: stage2: wait_ready: "b" is not one of the image's services`},
		{"bad timeout", "stage2:\n  wait_timeout: soon\n", `t.yaml:2: stage2: wait_timeout: "soon"`},
		{"modules without kernel", "modules: [virtio_net]\n", "t.yaml:1: modules need a kernel: key"},
		{"stage2 modules without kernel", "stage2:\n  modules: [virtio_net]\n", "t.yaml:2: modules need a kernel"},
		{"bad module name", "kernel: k\nmodules: [\"a/b\"]\n", `t.yaml:2: module name "a/b"`},
		{"bad aliases", "kernel: k\nmodules: {include: [a], aliases: some}\n", `t.yaml:2: modules: aliases: "some": want included or all`},
		{"file without dst", "files:\n  - src: a\n", "t.yaml:2: files: every entry needs dst"},
		{"file with both", "files:\n  - {src: a, dst: /b, content: x}\n", "t.yaml:2: files: /b: give exactly one of src"},
		{"file with neither", "files:\n  - {dst: /b}\n", "t.yaml:2: files: /b: give exactly one of src"},
		{"file escaping root", "files:\n  - {dst: /, content: x}\n", "t.yaml:2: files: dst:"},
		{"file twice", "files:\n  - {dst: /a, content: x}\n  - {dst: a/, content: y}\n", "t.yaml:3: files: /a listed twice (first on line 2)"},
		{"bad mode", "files:\n  - {dst: /a, content: x, mode: 999}\n", `t.yaml:2: files: /a: mode: "999" is not an octal permission`},
		{"mount without target", "stage2:\n  mounts:\n    - {type: proc}\n", "t.yaml:3: stage2: mounts: every mount needs type and target"},
		{"relative mount", "stage2:\n  mounts:\n    - {type: proc, target: proc}\n", `t.yaml:3: stage2: mounts: target "proc" must be an absolute path`},
		{"blank in mount", "stage2:\n  mounts:\n    - {type: proc, target: \"/a b\"}\n", `t.yaml:3: stage2: mounts: "/a b": no blanks`},
		{"empty run", "stage2:\n  run: [\"  \"]\n", "t.yaml:2: stage2: run: each entry is one non-empty"},
		{"comment in run", "stage2:\n  run:\n    - \"echo hi # note\"\n", "t.yaml:3: stage2: run: \"echo hi # note\": a # starts a comment"},
		{"brace in run", "stage2:\n  run:\n    - \"echo a } echo b\"\n", "t.yaml:3: stage2: run: \"echo a } echo b\": not an execline command line"},
		{"open block in run", "stage2:\n  run:\n    - \"if { true\"\n", "t.yaml:3: stage2: run: \"if { true\": not an execline command line"},
		{"multi-line cmdline", "cmdline: \"a\\nb\"\n", "t.yaml:1: cmdline: must be one line"},
		{"alias", "a: &x [ls]\ncommands: *x\n", "t.yaml:1: unknown key"},
		{"service list item", "services: [[a]]\n", "t.yaml:1: services: a service is a template name or a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDefinition([]byte(tc.yaml), "t.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want containing %q", err, tc.want)
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
}

func FuzzParseDefinition(f *testing.F) {
	f.Add([]byte("commands: [gosh]\nservices: [a, {name: b, from: c}]\nkernel: k\nmodules: {include: [x], aliases: all}\n"))
	f.Add([]byte("files:\n  - {dst: /a, content: x, mode: 0600}\nstage2:\n  mounts: [{type: 9p, target: /m}]\n  wait_ready: [a]\n"))
	f.Add([]byte("a: &x [1]\nb: *x\n"))
	f.Add([]byte("- 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinition(data, "f.yaml")
		if err != nil {
			if d != nil {
				t.Fatal("definition and error")
			}
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			return
		}
		// A valid definition always has settings and a command line
		// (plan's FuzzGenerateStage2: and a stage 2).
		_ = d.Settings(Overrides{})
		_ = d.CmdlineDefaults()
	})
}

func TestInBlock(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{"echo hi", true},
		{"if { test -e /dev/vda } mount /dev/vda /mnt", true},
		{`echo "a # b" "{" "}"`, true},
		{"echo # note", false},
		{"echo }", false},
		{"if { true", false},
		{`echo "unterminated`, false},
	} {
		if err := inBlock(tc.line); (err == nil) != tc.ok {
			t.Errorf("inBlock(%q) = %v, want ok %v", tc.line, err, tc.ok)
		}
	}
}
