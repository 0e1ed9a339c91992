package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/internal/imagetest"
)

// TestLayoutNeedsNoFiles: once resolved, the plan lays the image out
// with the busybox without reading anything: it works with the whole
// fake repository gone, and the busybox's links must agree with the plan.
func TestLayoutNeedsNoFiles(t *testing.T) {
	root, o := fixture(t)
	d, err := image.ParseDefinition([]byte(imagetest.FixtureDef), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(d, root, o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	bb := []*cpio.Entry{
		{Name: "bbin/bb", Mode: cpio.TypeRegular | 0o755, Data: []byte("busybox"), Part: PartBusybox},
		{Name: "bbin/ls", Mode: cpio.TypeSymlink | 0o777, Link: "bb", Part: PartBusybox},
		{Name: "init", Mode: cpio.TypeSymlink | 0o777, Link: "bbin/uinit", Part: PartBusybox},
	}
	a, err := p.Layout(bb)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"bbin/bb":                           "busybox",
		"etc/motd":                          filepath.Join(root, "files/motd"),
		"etc/svinit/scandir/svscan-log/run": filepath.Join(root, "templates/svscan-log/run"),
		"lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko": filepath.Join(root, "kernel/lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko"),
	} {
		e, ok := a.Get(name)
		switch {
		case !ok:
			t.Errorf("/%s missing", name)
		case e.Host != "" && e.Host != want, e.Host == "" && string(e.Data) != want:
			t.Errorf("/%s: host %q data %q, want %q", name, e.Host, e.Data, want)
		}
	}
	if _, ok := p.Image.Get("bbin/bb"); ok {
		t.Error("Layout changed the plan's image")
	}
	if _, err := p.Layout([]*cpio.Entry{{Name: "init", Mode: cpio.TypeSymlink | 0o777, Link: "bbin/gosh"}}); err == nil || !strings.Contains(err.Error(), "/init: added twice") {
		t.Errorf("a busybox /init other than the plan's: %v", err)
	}
}

// TestResolveFindsCollisions: a path two parts of a definition produce
// is a definition error when resolving, before any build.
func TestResolveFindsCollisions(t *testing.T) {
	root, o := fixture(t)
	for _, tc := range []struct{ name, def, want string }{
		{"etc file", "commands: [gosh]\nfiles: [{dst: /etc/hostname, content: x}]\n", "/etc/hostname: added twice (from base and from test.yaml:2)"},
		{"shell link", "commands: [gosh]\nfiles: [{dst: /bin/sh, content: x}]\n", "/bin/sh: added twice"},
		{"under a link", "commands: [gosh]\nfiles: [{dst: /sbin/x, content: x}]\n", "parent /sbin is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := image.ParseDefinition([]byte(tc.def), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			p, err := Resolve(d, root, o)
			if err == nil {
				p.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			var de *image.Error
			if !strings.Contains(err.Error(), tc.want) || !errors.As(err, &de) {
				t.Errorf("error %T %q, want an *image.Error containing %q", err, err, tc.want)
			}
		})
	}
}
