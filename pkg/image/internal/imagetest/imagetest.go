// Package imagetest makes fake repositories for the image packages' tests
// and reads the real one's definitions.
package imagetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/kmod/kmodtest"
)

// WriteFile writes a file of the given mode, making its directory.
func WriteFile(t testing.TB, p, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// Fixture makes a fake repository: go.mod, tools.go, templates, a u-root
// module directory (urootDir), a kernel modules tree (kernel/) and files
// that FixtureDef names.
func Fixture(t testing.TB) (root, urootDir string) {
	t.Helper()
	root = t.TempDir()
	WriteFile(t, filepath.Join(root, "go.mod"), "module example.com/x\n", 0o644)
	WriteFile(t, filepath.Join(root, "tools.go"), `//go:build tools
package tools
import (
	_ "github.com/u-root/u-root/cmds/core/gosh"
	_ "github.com/u-root/u-root/cmds/core/ls"
	_ "github.com/u-root/u-root/cmds/core/cp"
	_ "github.com/u-root/u-root/cmds/core/mv"
	_ "github.com/u-root/u-root/cmds/exp/modprobe"
)
`, 0o644)
	WriteFile(t, filepath.Join(root, "cmds/svscan/main.go"), "package main\nfunc main() {}\n", 0o644)
	WriteFile(t, filepath.Join(root, "cmds/notyet/doc.go"), "package notyet\n", 0o644)
	for _, ignored := range []string{"_scratch", ".hidden", "testdata"} {
		WriteFile(t, filepath.Join(root, "cmds", ignored, "main.go"), "package main\nfunc main() {}\n", 0o644)
	}
	WriteFile(t, filepath.Join(root, "cmds/mkimage/main.go"), "package main\nfunc main() {}\n", 0o644)
	WriteFile(t, filepath.Join(root, "uinit/main.go"), "package main\nfunc main() {}\n", 0o644)
	WriteFile(t, filepath.Join(root, "templates/svscan-log/run"), "#!/bin/execlineb -P\nsvlog -p t /run/uncaught-logs\n", 0o755)
	WriteFile(t, filepath.Join(root, "templates/svscan-log/notification-fd"), "3\n", 0o644)
	WriteFile(t, filepath.Join(root, "templates/getty/run"), "#!/bin/execlineb -P\ngetty ttyS0\n", 0o755)
	WriteFile(t, filepath.Join(root, "templates/getty/log/run"), "#!/bin/execlineb -P\nsvlog /run/log/getty\n", 0o750)
	WriteFile(t, filepath.Join(root, "templates/scandir-dot/finish"), "#!/bin/execlineb -P\nsvinit-final\n", 0o755)
	WriteFile(t, filepath.Join(root, "files/motd"), "welcome\n", 0o600)
	WriteFile(t, filepath.Join(root, "files/tree/a/b"), "b\n", 0o644)
	WriteFile(t, filepath.Join(root, "hook"), "#!/bin/execlineb -P\necho bye\n", 0o644)
	for _, c := range []string{"core/gosh", "core/ls", "core/cp", "core/mv", "core/poweroff", "exp/modprobe"} {
		if err := os.MkdirAll(filepath.Join(root, "uroot/cmds", c), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kmodtest.Tree(filepath.Join(root, "kernel"), "6.1.0-test", []kmodtest.Module{
		{Path: "kernel/drivers/virtio/virtio.ko"},
		{Path: "kernel/drivers/virtio/virtio_ring.ko", Depends: []string{"virtio"}},
		{Path: "kernel/drivers/net/virtio_net.ko", Depends: []string{"virtio_ring", "virtio"}, Aliases: []string{"virtio:d00000001v*"}},
		{Path: "kernel/drivers/block/virtio_blk.ko", Depends: []string{"virtio_ring", "virtio"}, Aliases: []string{"virtio:d00000002v*"}},
	}); err != nil {
		t.Fatal(err)
	}
	return root, filepath.Join(root, "uroot")
}

// FixtureDef is an image definition using every part of Fixture.
const FixtureDef = `commands: [gosh, ls, cp, mv, modprobe]
early_services: [svscan-log]
services: [getty]
scandir_hooks: scandir-dot
kernel: kernel
modules: [virtio_net]
files:
  - {src: files/motd, dst: /etc/motd}
  - {src: files/tree, dst: /opt/tree, mode: "0700"}
  - {dst: /etc/issue, content: "svinit\n"}
hostname: testbox
cmdline: svinit.debug=1
stage2:
  modules: [virtio_net]
  wait_ready: [getty]
shutdown_hook: hook
compression: gzip
output: out/test.cpio.gz
`

// RepoRoot is the repository this test runs in.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := image.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// RepoDefinitions parses the repository's images/*.yaml, by path from root.
func RepoDefinitions(t testing.TB, root string) map[string]*image.Definition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "images", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no images/*.yaml: %v", err)
	}
	out := map[string]*image.Definition{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		d, err := image.ParseDefinition(data, rel)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out[rel] = d
	}
	return out
}
