package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/kmod/kmodtest"
)

// TestKernelFromDeb takes modules straight from a Debian package.
func TestKernelFromDeb(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatalf("dpkg-deb not found: %v (apt-get install dpkg)", err)
	}
	root, ro := fixture(t)
	pkg := filepath.Join(t.TempDir(), "pkg")
	if _, err := kmodtest.Tree(pkg, "6.1.0-deb", []kmodtest.Module{
		{Path: "kernel/fs/9p/9p.ko", Depends: []string{"9pnet"}, Aliases: []string{"fs-9p"}},
		{Path: "kernel/net/9p/9pnet.ko"},
	}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pkg, "boot/vmlinuz-6.1.0-deb"), "not a kernel", 0o644)
	writeFile(t, filepath.Join(pkg, "DEBIAN/control"), "Package: linux-image-test\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: test\n", 0o644)
	deb := filepath.Join(root, "k.deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", pkg, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	d, err := image.ParseDefinition([]byte("commands: [gosh]\nkernel: k.deb\nmodules: [9p]\n"), "deb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Resolve(d, root, ro)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.Layout(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmp := p.cleanup
	p.Close()
	for _, dir := range tmp {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("unpacked package %s left behind", dir)
		}
	}
	for _, n := range []string{"lib/modules/6.1.0-deb/kernel/fs/9p/9p.ko", "lib/modules/6.1.0-deb/kernel/net/9p/9pnet.ko"} {
		if _, ok := a.Get(n); !ok {
			t.Errorf("/%s missing", n)
		}
	}
	// A .deb that is not one.
	os.WriteFile(filepath.Join(root, "bad.deb"), []byte("garbage"), 0o644)
	d, _ = image.ParseDefinition([]byte("commands: [gosh]\nkernel: bad.deb\nmodules: [9p]\n"), "deb.yaml")
	if _, err := Resolve(d, root, ro); err == nil || !strings.Contains(err.Error(), "deb.yaml:2: kernel: ") {
		t.Errorf("bad .deb: %v", err)
	}
}
