package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/inspect"
	"github.com/svinit/svinit/pkg/kmod/kmodtest"
)

func writeFile(t *testing.T, p, data string, mode os.FileMode) {
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

// fixture makes a fake repository: go.mod, tools.go, templates, a u-root
// module directory, a kernel modules tree and an image definition.
func fixture(t *testing.T) (root string, ro ResolveOptions) {
	t.Helper()
	root = t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/x\n", 0o644)
	writeFile(t, filepath.Join(root, "tools.go"), `//go:build tools
package tools
import (
	_ "github.com/u-root/u-root/cmds/core/gosh"
	_ "github.com/u-root/u-root/cmds/core/ls"
	_ "github.com/u-root/u-root/cmds/core/cp"
	_ "github.com/u-root/u-root/cmds/exp/modprobe"
)
`, 0o644)
	writeFile(t, filepath.Join(root, "cmds/svscan/main.go"), "package main\nfunc main() {}\n", 0o644)
	writeFile(t, filepath.Join(root, "cmds/notyet/doc.go"), "package notyet\n", 0o644)
	for _, ignored := range []string{"_scratch", ".hidden", "testdata"} {
		writeFile(t, filepath.Join(root, "cmds", ignored, "main.go"), "package main\nfunc main() {}\n", 0o644)
	}
	writeFile(t, filepath.Join(root, "cmds/mkimage/main.go"), "package main\nfunc main() {}\n", 0o644)
	writeFile(t, filepath.Join(root, "uinit/main.go"), "package main\nfunc main() {}\n", 0o644)
	writeFile(t, filepath.Join(root, "templates/svscan-log/run"), "#!/bin/execlineb -P\nsvlog -p t /run/uncaught-logs\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/svscan-log/notification-fd"), "3\n", 0o644)
	writeFile(t, filepath.Join(root, "templates/getty/run"), "#!/bin/execlineb -P\ngetty ttyS0\n", 0o755)
	writeFile(t, filepath.Join(root, "templates/getty/log/run"), "#!/bin/execlineb -P\nsvlog /run/log/getty\n", 0o750)
	writeFile(t, filepath.Join(root, "templates/scandir-dot/finish"), "#!/bin/execlineb -P\nsvinit-final\n", 0o755)
	writeFile(t, filepath.Join(root, "files/motd"), "welcome\n", 0o600)
	writeFile(t, filepath.Join(root, "files/tree/a/b"), "b\n", 0o644)
	writeFile(t, filepath.Join(root, "hook"), "#!/bin/execlineb -P\necho bye\n", 0o644)
	for _, c := range []string{"core/gosh", "core/ls", "core/cp", "core/poweroff", "exp/modprobe"} {
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
	return root, ResolveOptions{URootDir: filepath.Join(root, "uroot")}
}

const fixtureDef = `commands: [gosh, ls, cp, modprobe]
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

func fakeBusybox(ctx context.Context, p *Plan, tmp string) ([]*cpio.Entry, error) {
	var names []string
	for _, c := range p.Commands {
		names = append(names, c.Name)
	}
	return []*cpio.Entry{{Name: "bbin/bb", Mode: cpio.TypeRegular | 0o755, Data: []byte("fake busybox: " + strings.Join(names, " ")), Part: PartBusybox}}, nil
}

func buildFixture(t *testing.T, root string, ro ResolveOptions, def string, mtime int64) (*Result, []byte) {
	t.Helper()
	d, err := ParseDefinition([]byte(def), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(context.Background(), d, Options{Root: root, MTime: mtime, Busybox: fakeBusybox, Resolve: ro})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	return res, data
}

func TestBuildLayout(t *testing.T) {
	root, ro := fixture(t)
	res, data := buildFixture(t, root, ro, fixtureDef, 0)
	if res.Output != filepath.Join(root, "out/test.cpio.gz") || res.Compression != "gzip" {
		t.Errorf("result %+v", res)
	}
	es, comp, err := inspect.ReadImage(bytes.NewReader(data))
	if err != nil || comp != "gzip" {
		t.Fatalf("ReadImage: %v, %s", err, comp)
	}
	got := map[string]*cpio.Entry{}
	var order []string
	for _, e := range es {
		got[e.Name] = e
		order = append(order, e.Name)
	}
	for i := 1; i < len(order); i++ {
		if order[i-1] >= order[i] {
			t.Errorf("entries not sorted: %s before %s", order[i-1], order[i])
		}
	}
	want := []struct {
		name string
		mode uint32
		data string // "" = don't care; for symlinks the target
	}{
		{"init", cpio.TypeSymlink | 0o777, "bbin/uinit"},
		{"bbin/bb", cpio.TypeRegular | 0o755, "fake busybox: svscan uinit gosh ls cp modprobe"},
		{"bbin/svscan", cpio.TypeSymlink | 0o777, "bb"},
		{"bin/svscan", cpio.TypeSymlink | 0o777, "../bbin/svscan"},
		{"bin/modprobe", cpio.TypeSymlink | 0o777, "../bbin/modprobe"},
		{"bin/sh", cpio.TypeSymlink | 0o777, "../bbin/gosh"},
		{"dev/console", cpio.TypeChar | 0o600, ""},
		{"tmp", cpio.TypeDir | 0o1777, ""},
		{"etc/hostname", cpio.TypeRegular | 0o644, "testbox\n"},
		{"etc/svinit/cmdline", cpio.TypeRegular | 0o644, "svinit.debug=1\n"},
		{"etc/svinit/scandir/svscan-log/run", cpio.TypeRegular | 0o755, "#!/bin/execlineb -P\nsvlog -p t /run/uncaught-logs\n"},
		{"etc/svinit/scandir/svscan-log/notification-fd", cpio.TypeRegular | 0o644, "3\n"},
		{"etc/svinit/scandir/.s6-svscan/finish", cpio.TypeRegular | 0o755, ""},
		{"etc/svinit/services/getty/run", cpio.TypeRegular | 0o755, ""},
		{"etc/svinit/services/getty/log/run", cpio.TypeRegular | 0o750, ""},
		{"etc/svinit/shutdown", cpio.TypeRegular | 0o755, "#!/bin/execlineb -P\necho bye\n"},
		{"etc/svinit/stage2", cpio.TypeRegular | 0o755, "#!/bin/execlineb -P\n# Stage 2, generated by mkimage from test.yaml. Do not edit: edit the definition.\n" +
			"foreground { modprobe -a virtio_net }\nforeground { cp -r /etc/svinit/services/getty /run/service/getty }\n" +
			"foreground { svscanctl -a /run/service }\nforeground { svwait -u -t 10000 /run/service/getty }\nsvinit-switch-root\n"},
		{"etc/motd", cpio.TypeRegular | 0o600, "welcome\n"},
		{"etc/issue", cpio.TypeRegular | 0o644, "svinit\n"},
		{"opt/tree", cpio.TypeDir | 0o700, ""},
		{"opt/tree/a/b", cpio.TypeRegular | 0o644, "b\n"},
		{"lib/modules/6.1.0-test/kernel/drivers/net/virtio_net.ko", cpio.TypeRegular | 0o644, ""},
		{"lib/modules/6.1.0-test/modules.dep", cpio.TypeRegular | 0o644, "kernel/drivers/net/virtio_net.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko\n" +
			"kernel/drivers/virtio/virtio.ko:\nkernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko\n"},
		{"lib/modules/6.1.0-test/modules.alias", cpio.TypeRegular | 0o644, "# Aliases extracted from modules themselves.\nalias virtio:d00000001v* virtio_net\n"},
	}
	for _, w := range want {
		e, ok := got[w.name]
		if !ok {
			t.Errorf("/%s missing", w.name)
			continue
		}
		if e.Mode != w.mode {
			t.Errorf("/%s: mode %o, want %o", w.name, e.Mode, w.mode)
		}
		content := string(e.Data)
		if e.Mode&cpio.TypeMask == cpio.TypeSymlink {
			content = e.Link
		}
		if w.data != "" && content != w.data {
			t.Errorf("/%s: contents %q, want %q", w.name, content, w.data)
		}
	}
	for _, absent := range []string{"bbin/mkimage", "bbin/notyet", "bbin/_scratch", "bbin/.hidden", "bbin/testdata", "lib/modules/6.1.0-test/kernel/drivers/block/virtio_blk.ko", "bin/defaultsh"} {
		if _, ok := got[absent]; ok {
			t.Errorf("/%s present", absent)
		}
	}
	if res.Parts[PartModules] == 0 || res.Parts[PartServices] == 0 || res.Parts[PartBusybox] == 0 || res.Total == 0 || res.Compressed == 0 {
		t.Errorf("sizes %+v", res)
	}
	if s := res.Summary(); !strings.Contains(s, "modules") || !strings.Contains(s, "compressed") {
		t.Errorf("summary %q", s)
	}
}

func TestBuildReproducible(t *testing.T) {
	root, ro := fixture(t)
	_, a := buildFixture(t, root, ro, fixtureDef, 1700000000)
	// Touch the sources: new mtimes must not change the image.
	os.Chtimes(filepath.Join(root, "files/motd"), timeNow(), timeNow())
	_, b := buildFixture(t, root, ro, fixtureDef, 1700000000)
	if !bytes.Equal(a, b) {
		t.Fatal("two builds of the same inputs differ")
	}
	_, c := buildFixture(t, root, ro, fixtureDef, 0)
	if bytes.Equal(a, c) {
		t.Fatal("SOURCE_DATE_EPOCH does not change the image")
	}
	// Every header: root-owned, the given mtime, inodes 1, 2, 3...
	es, _, err := inspect.ReadImage(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	raw := gunzip(t, a)
	off, ino := 0, uint64(1)
	for range es {
		h := string(raw[off : off+110])
		if h[6:14] != hex8(ino) || h[22:30] != "00000000" || h[30:38] != "00000000" || h[46:54] != hex8(1700000000) {
			t.Fatalf("header %d: %q", ino, h)
		}
		size, namesize := parseHex(h[54:62]), parseHex(h[94:102])
		off = align4(align4(off+110+int(namesize)) + int(size))
		ino++
	}
	if !strings.HasPrefix(string(raw[off:]), "070701") || !strings.Contains(string(raw[off:off+130]), "TRAILER!!!") {
		t.Errorf("no trailer at %d", off)
	}
}

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
			d, err := ParseDefinition([]byte(tc.def), "test.yaml")
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
	d, _ := ParseDefinition([]byte("commands: [gosh]\nkernel: kernel\nmodules: [virtio_net]\n"), "test.yaml")
	ko := ro
	ko.Kernel = filepath.Join(root, "nokernel")
	if _, err := Resolve(d, root, ko); err == nil || !strings.HasPrefix(err.Error(), "test.yaml: -k: stat "+ko.Kernel+": no such file") {
		t.Errorf("bad -k: %v", err)
	}
	// Without uinit/ the default init is missing.
	os.RemoveAll(filepath.Join(root, "uinit"))
	d, _ = ParseDefinition([]byte("commands: [gosh]\n"), "test.yaml")
	if _, err := Resolve(d, root, ro); err == nil || !strings.Contains(err.Error(), "stage 1 is missing") {
		t.Errorf("no uinit: %v", err)
	}
}

// TestBuildFailureLeavesNothing: an error while writing (here: the output
// directory is a file, then an interrupted context) leaves no partial
// image and no temporary file.
func TestBuildFailureLeavesNothing(t *testing.T) {
	root, ro := fixture(t)
	d, _ := ParseDefinition([]byte(fixtureDef), "test.yaml")
	out := filepath.Join(root, "out", "img.cpio.gz")
	os.MkdirAll(filepath.Dir(out), 0o755)
	os.WriteFile(out, []byte("previous image"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	busybox := func(ctx context.Context, p *Plan, tmp string) ([]*cpio.Entry, error) {
		es, err := fakeBusybox(ctx, p, tmp)
		cancel() // "SIGINT" arrives during the build
		return es, err
	}
	_, err := Build(ctx, d, Options{Root: root, Output: out, Busybox: busybox, Resolve: ro})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Build error %v, want context.Canceled", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "previous image" {
		t.Errorf("previous image replaced by %d bytes", len(b))
	}
	ents, _ := os.ReadDir(filepath.Dir(out))
	if len(ents) != 1 {
		t.Errorf("out/ holds %v", ents)
	}
}

// TestBuildProgress: one progress line per phase, in order, and a summary
// with the size of each part, the total and the compressed size.
func TestBuildProgress(t *testing.T) {
	root, ro := fixture(t)
	d, _ := ParseDefinition([]byte(fixtureDef), "test.yaml")
	var progress bytes.Buffer
	res, err := Build(context.Background(), d, Options{Root: root, Progress: &progress, Busybox: fakeBusybox, Resolve: ro})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	wantLines := []string{
		"mkimage: resolving test.yaml...",
		"mkimage: building the busybox (6 commands: cp gosh ls modprobe svscan uinit)...",
		"mkimage: laying out services, modules and files...",
		"mkimage: writing " + filepath.Join(root, "out/test.cpio.gz") + " (gzip)...",
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", progress.String(), strings.Join(wantLines, "\n"))
	}
	sum := strings.Split(res.Summary(), "\n")
	wantSum := []string{
		"mkimage: wrote " + res.Output + ": ",
		"  base ", "  busybox ", "  files ", "  modules ", "  services ",
		"  total ", "  compressed ", "  time: resolving ",
	}
	if len(sum) != len(wantSum)+1 {
		t.Fatalf("summary %q", res.Summary())
	}
	for i, w := range wantSum {
		if !strings.HasPrefix(sum[i], w) {
			t.Errorf("summary line %d %q, want starting %q", i, sum[i], w)
		}
	}
	if want := fmt.Sprintf("(gzip, %.1f%%)", 100*float64(res.Compressed)/float64(res.Total)); !strings.HasSuffix(sum[7], want) {
		t.Errorf("compressed line %q, want ending %q", sum[7], want)
	}
	if !strings.Contains(sum[8], "building ") || !strings.Contains(sum[8], "laying ") || !strings.Contains(sum[8], "writing ") {
		t.Errorf("time line %q", sum[8])
	}
}

// TestBuildUnwritableOutput: an output that cannot be written is an error
// before the busybox is built, and leaves nothing behind.
func TestBuildUnwritableOutput(t *testing.T) {
	root, ro := fixture(t)
	writeFile(t, filepath.Join(root, "afile"), "x", 0o644)
	os.MkdirAll(filepath.Join(root, "adir"), 0o755)
	for _, tc := range []struct{ out, want string }{
		{"adir", "output: " + filepath.Join(root, "adir") + ": is a directory"},
		{filepath.Join(root, "adir") + "/", "is a directory"},
		{"afile/img.cpio.gz", "output: mkdir " + filepath.Join(root, "afile") + ": not a directory"},
		{"/proc/img.cpio.gz", "output: cannot create a file next to /proc/img.cpio.gz"},
	} {
		t.Run(tc.out, func(t *testing.T) {
			d, _ := ParseDefinition([]byte(fixtureDef), "test.yaml")
			built := false
			busybox := func(ctx context.Context, p *Plan, tmp string) ([]*cpio.Entry, error) {
				built = true
				return fakeBusybox(ctx, p, tmp)
			}
			_, err := Build(context.Background(), d, Options{Root: root, Output: tc.out, Busybox: busybox, Resolve: ro})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want containing %q", err, tc.want)
			}
			if built {
				t.Error("the busybox was built before the output was checked")
			}
			ents, _ := os.ReadDir(filepath.Join(root, "adir"))
			if len(ents) != 0 {
				t.Errorf("adir holds %v", ents)
			}
		})
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	boom := errors.New("boom")
	if err := WriteAtomic(p, 0o644, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents)
	}
	if err := WriteAtomic(p, 0o640, func(w io.Writer) error { _, err := w.Write([]byte("ok")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "ok" {
		t.Errorf("contents %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", st.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %v", ents)
	}
}

func TestMkimageInterrupt(t *testing.T) {
	// The real command, interrupted with SIGINT during a (fake, slow) build,
	// is covered in cmds/mkimage; here: a failing writer leaves nothing.
	a := cpio.NewArchive()
	a.File("x", 0o644, make([]byte, 1<<20), "")
	err := a.WriteCPIO(failWriter{}, cpio.WriteOptions{})
	if err == nil {
		t.Fatal("no error from a failing writer")
	}
}

type failWriter struct{}

func (failWriter) Write(b []byte) (int, error) { return 0, errors.New("disk full") }

func TestExternalTools(t *testing.T) {
	// Images the generator writes are read by the standard tools.
	root, ro := fixture(t)
	// make test installs xz-utils, zstd, lz4 and cpio (scripts/deps.sh).
	for _, c := range []struct{ comp, tool, pkg string }{
		{"xz", "xz", "xz-utils"}, {"gzip", "gzip", "gzip"}, {"zstd", "zstd", "zstd"}, {"lz4", "lz4", "lz4"},
	} {
		if _, err := exec.LookPath(c.tool); err != nil {
			t.Errorf("%s not found: %s images not checked with it (apt-get install %s)", c.tool, c.comp, c.pkg)
			continue
		}
		d, _ := ParseDefinition([]byte(fixtureDef), "test.yaml")
		res, err := Build(context.Background(), d, Options{Root: root, Compression: c.comp, Output: "out/t" + compress.Suffix(c.comp), Busybox: fakeBusybox, Resolve: ro})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(c.tool, "-d", "-c", res.Output).Output()
		if err != nil {
			t.Errorf("%s -d %s: %v", c.tool, res.Output, err)
			continue
		}
		if _, err := cpio.ReadCPIO(bytes.NewReader(out)); err != nil {
			t.Errorf("%s: decompressed by %s: %v", c.comp, c.tool, err)
		}
		if c.comp == "gzip" {
			checkGNUCpio(t, out)
		}
		if c.comp == "xz" {
			info, err := exec.Command("xz", "--robot", "-l", res.Output).Output()
			if err != nil || !strings.Contains(string(info), "\tCRC32\t") {
				t.Errorf("xz -l: %s %v (want CRC32 checks)", info, err)
			}
		}
	}
}

// checkGNUCpio lists the archive with GNU cpio and compares the names.
func checkGNUCpio(t *testing.T, archive []byte) {
	t.Helper()
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Errorf("cpio not found: archive not checked with GNU cpio (apt-get install cpio)")
		return
	}
	cmd := exec.Command("cpio", "-it", "--quiet")
	cmd.Stdin = bytes.NewReader(archive)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -it: %v", err)
	}
	es, err := cpio.ReadCPIO(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range es {
		want = append(want, e.Name)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cpio -it lists %v\nwant %v", got, want)
	}
}
