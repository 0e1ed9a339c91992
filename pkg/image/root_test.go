package image

import (
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/bootfs"
)

func TestRootSection(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		cmdline    string // /etc/svinit/cmdline; "" with err
		err        string
	}{
		{"none", "cmdline: quiet\n", "quiet", ""},
		{"all", "root:\n  device: UUID=0a1b2c3d-0000-1111-2222-333344445555\n  fstype: ext4\n  flags: noatime\n  rw: true\n  wait: true\n  delay: 5\n  init: /sbin/runit-init\ncmdline: quiet\n",
			"root=UUID=0a1b2c3d-0000-1111-2222-333344445555 rootfstype=ext4 rootflags=noatime rw rootwait rootdelay=5 init=/sbin/runit-init quiet", ""},
		{"keep", "root: {device: LABEL=sys, rw: true, keep: true}\n", "root=LABEL=sys rw svinit.keep", ""},
		{"bad keep", "root: {device: /dev/vda, keep: 1}\n", "", "root: keep"},
		{"label with a blank", "root: {device: LABEL=my root, rw: false}\n", `root="LABEL=my root" ro`, ""},
		{"bad device", "root: {device: sda1}\n", "", "root: device"},
		{"bad rw", "root: {device: /dev/vda, rw: yes}\n", "", "root: rw"},
		{"bad delay", "root: {device: /dev/vda, delay: soon}\n", "", "root: delay"},
		{"relative init", "root: {device: /dev/vda, init: sbin/init}\n", "", "root: init"},
		{"quote", "root: {device: 'LABEL=a\"b'}\n", "", "no quotes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDefinition([]byte(tc.yaml), "test.yaml")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseDefinition: %v, want an error about %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := d.CmdlineDefaults()
			if got != tc.cmdline {
				t.Errorf("cmdline %q, want %q", got, tc.cmdline)
			}
			// What stage 1 and svinit-switch-root read back is what was meant.
			c := bootfs.ParseCmdline(got)
			if len(c.Warnings) != 0 || c.Root.Spec != d.Root.Device.Value || c.Root.Init != d.Root.Init.Value || c.Keep != (d.Root.Keep.Value == "true") {
				t.Errorf("read back: %+v", c)
			}
		})
	}
}
