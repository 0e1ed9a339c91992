package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
)

func TestResolveErrors(t *testing.T) {
	root, ro := fixture(t)
	for _, tc := range []struct {
		name, def, want string
	}{
		{"unknown command", "commands: [gosh, lss]\n", `test.yaml:1: commands: unknown command "lss": not a u-root command (cmds/core or cmds/exp); did you mean ls?`},
		{"not in tools.go", "commands: [gosh, poweroff]\n", "test.yaml:1: commands: github.com/u-root/u-root/cmds/core/poweroff is not imported by tools.go"},
		{"missing template", "commands: [gosh]\nearly_services: [svscan-logg]\n", `test.yaml:2: service "svscan-logg": no service directory ` + root + "/templates/svscan-logg (templates has svscan-log)"},
		{"missing from", "commands: [gosh]\nservices: [{name: x, from: nowhere}]\n", `test.yaml:2: service "x": no service directory ` + root + "/nowhere"},
		{"missing hooks", "commands: [gosh]\nscandir_hooks: nope\n", "test.yaml:2: scandir_hooks: no directory"},
		{"missing module", "commands: [gosh]\nkernel: kernel\nmodules: [virtio_nte]\n", `test.yaml:3: modules: module "virtio_nte" not found in kernel 6.1.0-test (did you mean virtio_net, `},
		{"missing kernel", "commands: [gosh]\nkernel: nokernel\nmodules: [virtio_net]\n", "test.yaml:2: kernel: "},
		{"stage2 modules need modprobe", "commands: [gosh]\nkernel: kernel\nstage2: {modules: [virtio_net]}\n", "test.yaml:3: stage2: modules: the image needs the modprobe command"},
		{"services need cp", "commands: [gosh]\nservices: [svscan-log]\n", "test.yaml:2: services: stage 2 brings them in with cp and mv, and the image has no cp: add cp to commands"},
		{"missing file", "commands: [gosh]\nfiles: [{src: nofile, dst: /x}]\n", "test.yaml:2: files: src nofile: no such file or directory"},
		{"missing hook", "commands: [gosh]\nshutdown_hook: nohook\n", "test.yaml:2: shutdown_hook: "},
		{"no shell", "commands: [ls]\n", `test.yaml:0: shell: "gosh" is not one of the image's commands`},
		{"bad init", "commands: [gosh]\ninit: nope\n", `test.yaml:2: init: "nope" is not one of the image's commands`},
		{"name clash", "commands: [gosh, github.com/u-root/u-root/cmds/core/ls, ls]\n", `two commands named "ls"`},
		{"own command listed", "commands: [gosh, svscan]\n", `test.yaml:1: commands: "svscan" is this repository's own command, always in the image: remove it from commands`},
		{"own stage 1 listed", "commands:\n  - gosh\n  - uinit\n", `test.yaml:3: commands: "uinit" is this repository's own command`},
		{"own name by path", "commands: [gosh, github.com/u-root/u-root/cmds/core/svscan]\n", `test.yaml:1: commands: github.com/u-root/u-root/cmds/core/svscan: this repository's own command "svscan" has that name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := image.ParseDefinition([]byte(tc.def), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			p, err := Resolve(d, root, ro)
			if err == nil {
				p.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), strings.TrimPrefix(tc.want, "test.yaml:0: ")) {
				t.Errorf("error %q\nwant containing %q", err, tc.want)
			}
		})
	}
	// A bad -k names the option, not the definition's kernel: line.
	d, _ := image.ParseDefinition([]byte("commands: [gosh]\nkernel: kernel\nmodules: [virtio_net]\n"), "test.yaml")
	ko := ro
	ko.Kernel = filepath.Join(root, "nokernel")
	if _, err := Resolve(d, root, ko); err == nil || !strings.HasPrefix(err.Error(), "test.yaml: -k: stat "+ko.Kernel+": no such file") {
		t.Errorf("bad -k: %v", err)
	}
	// Without uinit/ the default init is missing.
	os.RemoveAll(filepath.Join(root, "uinit"))
	d, _ = image.ParseDefinition([]byte("commands: [gosh]\n"), "test.yaml")
	if _, err := Resolve(d, root, ro); err == nil || !strings.Contains(err.Error(), "stage 1 is missing") {
		t.Errorf("no uinit: %v", err)
	}
}
