package depmod_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/svinit/svinit/pkg/kmod"
	"github.com/svinit/svinit/pkg/kmod/depmod"
	"github.com/svinit/svinit/pkg/kmod/kmodtest"
	"github.com/ulikunitz/xz"
)

func fakeTree(t *testing.T) *depmod.Tree {
	t.Helper()
	dir, err := kmodtest.Tree(t.TempDir(), "6.1.0-test", []kmodtest.Module{
		{Path: "kernel/drivers/virtio/virtio.ko", Aliases: nil},
		{Path: "kernel/drivers/virtio/virtio_ring.ko", Depends: []string{"virtio"}},
		{Path: "kernel/drivers/virtio/virtio_pci.ko", Depends: []string{"virtio", "virtio_ring"}, Aliases: []string{"pci:v00001AF4d*sv*sd*bc*sc*i*"}},
		{Path: "kernel/net/core/failover.ko"},
		{Path: "kernel/drivers/net/net_failover.ko", Depends: []string{"failover"}},
		{Path: "kernel/drivers/net/virtio_net.ko", Depends: []string{"virtio_ring", "virtio", "net_failover"}, Aliases: []string{"virtio:d00000001v*"}},
		{Path: "kernel/fs/ext4/ext4.ko", Depends: []string{"mbcache"}, Softdep: "pre: crc32c", Aliases: []string{"fs-ext4", "fs-ext3"}},
		{Path: "kernel/fs/mbcache.ko"},
		{Path: "kernel/drivers/char/hw_random/virtio-rng.ko", Depends: []string{"virtio", "virtio_ring"}, Aliases: []string{"virtio:d00000004v*"}},
		{Path: "kernel/drivers/bad/broken.ko", Depends: []string{"missing_dep"}},
		{Path: "kernel/drivers/bad/loop_a.ko", Depends: []string{"loop_b"}},
		{Path: "kernel/drivers/bad/loop_b.ko", Depends: []string{"loop_a"}},
	}, "crypto/crc32c_generic", "fs/9p/9p")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := depmod.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func names(s *depmod.Set) []string {
	var out []string
	for _, m := range s.Modules {
		out = append(out, m.Name)
	}
	return out
}

func TestResolve(t *testing.T) {
	tr := fakeTree(t)
	for _, tc := range []struct {
		in      []string
		soft    bool
		want    []string
		builtin []string
		err     string
	}{
		{in: []string{"virtio_net"}, want: []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}},
		{in: []string{"virtio-rng", "virtio_pci"}, want: []string{"virtio", "virtio_ring", "virtio_rng", "virtio_pci"}},
		{in: []string{"ext4"}, soft: true, want: []string{"mbcache", "ext4"}},
		{in: []string{"9p", "mbcache"}, want: []string{"mbcache"}, builtin: []string{"9p"}},
		{in: []string{"virtio_nett"}, err: `module "virtio_nett" not found in kernel 6.1.0-test (did you mean virtio_net`},
		{in: []string{"broken"}, err: "module missing_dep (needed by broken) not found"},
		{in: []string{"loop_a"}, err: "dependency cycle: loop_a -> loop_b -> loop_a"},
	} {
		s, err := tr.Resolve(tc.in, tc.soft)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Resolve(%v) error = %v, want containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%v): %v", tc.in, err)
			continue
		}
		if got := names(s); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Resolve(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if !reflect.DeepEqual(s.Builtin, tc.builtin) {
			t.Errorf("Resolve(%v) builtin = %v, want %v", tc.in, s.Builtin, tc.builtin)
		}
	}
	var nf *depmod.NotFoundError
	if _, err := tr.Resolve([]string{"nosuch"}, false); !errors.As(err, &nf) {
		t.Errorf("missing module: error %v is not a NotFoundError", err)
	}
}

func TestWriteDepAndAlias(t *testing.T) {
	tr := fakeTree(t)
	s, err := tr.Resolve([]string{"virtio_net", "virtio_rng", "ext4"}, true)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := depmod.WriteDep(&b, s); err != nil {
		t.Fatal(err)
	}
	want := `kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/fs/ext4/ext4.ko: kernel/fs/mbcache.ko
kernel/fs/mbcache.ko:
kernel/net/core/failover.ko:
`
	if b.String() != want {
		t.Errorf("modules.dep:\n%s\nwant:\n%s", b.String(), want)
	}
	// Round trip through ParseDep: a tree with this modules.dep resolves the same.
	deps, err := kmod.ParseDep(strings.NewReader(want))
	if err != nil || len(deps) != 8 || deps["virtio_net"].Path != "kernel/drivers/net/virtio_net.ko" || len(deps["virtio_net"].Deps) != 4 {
		t.Errorf("ParseDep = %v, %v", deps, err)
	}

	var infos []*depmod.Info
	for _, m := range s.Modules {
		infos = append(infos, m.Info)
	}
	b.Reset()
	if err := depmod.WriteAlias(&b, depmod.AliasesOf(infos)); err != nil {
		t.Fatal(err)
	}
	// Written as the modules give them (as depmod writes them), read back
	// normalized (as kmod compares them).
	if !strings.Contains(b.String(), "\nalias fs-ext4 ext4\nalias fs-ext3 ext4\n") {
		t.Errorf("modules.alias = %q", b.String())
	}
	as, err := kmod.ParseAlias(&b)
	if err != nil {
		t.Fatal(err)
	}
	wantAs := []kmod.Alias{
		{Pattern: "fs_ext4", Module: "ext4"},
		{Pattern: "fs_ext3", Module: "ext4"},
		{Pattern: "virtio:d00000001v*", Module: "virtio_net"},
		{Pattern: "virtio:d00000004v*", Module: "virtio_rng"},
	}
	if !reflect.DeepEqual(as, wantAs) {
		t.Errorf("aliases = %v, want %v", as, wantAs)
	}
	if got := matchAliases(as, "virtio:d00000001v00001AF4"); !reflect.DeepEqual(got, []string{"virtio_net"}) {
		t.Errorf("Match virtio net = %v", got)
	}
	if got := matchAliases(as, "virtio:d00000002v00001AF4"); got != nil {
		t.Errorf("Match virtio blk = %v, want none", got)
	}
	b.Reset()
	depmod.WriteSoftdep(&b, infos)
	if !strings.Contains(b.String(), "softdep ext4 pre: crc32c\n") {
		t.Errorf("modules.softdep = %q", b.String())
	}
}

func TestModulesDepFileWins(t *testing.T) {
	root := t.TempDir()
	dir, err := kmodtest.Tree(root, "6.1.0-dep", []kmodtest.Module{
		{Path: "kernel/a.ko", Depends: []string{"b"}},
		{Path: "kernel/b.ko"},
		{Path: "kernel/c.ko"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// modules.dep says a needs c (not b): it is trusted over .modinfo.
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte("kernel/a.ko: kernel/c.ko\nkernel/b.ko:\nkernel/c.ko:\n"), 0o644)
	tr, err := depmod.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.HasDepFile() {
		t.Fatal("HasDepFile = false")
	}
	s, err := tr.Resolve([]string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(s); !reflect.DeepEqual(got, []string{"c", "a"}) {
		t.Errorf("Resolve = %v", got)
	}
	// FindModulesDir finds the version under a root.
	if got, err := depmod.FindModulesDir(root); err != nil || got != dir {
		t.Errorf("FindModulesDir(root) = %q, %v; want %q", got, err, dir)
	}
	if _, err := depmod.FindModulesDir(t.TempDir()); err == nil {
		t.Error("FindModulesDir(empty) succeeded")
	}
}

func TestCompressedModules(t *testing.T) {
	elf := kmodtest.ELF("alias=fs-foo", "depends=bar", "name=foo")
	var xzb, zb bytes.Buffer
	xw, _ := xz.NewWriter(&xzb)
	xw.Write(elf)
	xw.Close()
	zw, _ := zstd.NewWriter(&zb)
	zw.Write(elf)
	zw.Close()
	for name, data := range map[string][]byte{"foo.ko": elf, "foo.ko.xz": xzb.Bytes(), "foo.ko.zst": zb.Bytes()} {
		info, err := depmod.ParseModinfo(data, name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want := &depmod.Info{Name: "foo", Depends: []string{"bar"}, Aliases: []string{"fs-foo"}}
		if !reflect.DeepEqual(info, want) {
			t.Errorf("%s: %+v, want %+v", name, info, want)
		}
	}
	if _, err := depmod.ParseModinfo([]byte("garbage"), "x.ko"); err == nil {
		t.Error("garbage parsed")
	}
}

// debianModules returns the module directory of the Debian kernel that
// scripts/kernel.sh caches (fetching it when absent; CI must have it).
func debianModules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("../../../scripts/kernel.sh", "-q", "-m").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("scripts/kernel.sh (fetches the Debian kernel with apt-get download): %v\n%s", err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// TestDebianKernel resolves real modules from the Debian kernel that
// scripts/kernel.sh caches (fetched here when absent; CI must have it).
func TestDebianKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping the Debian kernel download")
	}
	tr, err := depmod.Open(debianModules(t))
	if err != nil {
		t.Fatal(err)
	}
	if tr.HasDepFile() {
		t.Log("note: the package now ships modules.dep")
	}
	s, err := tr.Resolve([]string{"virtio_net", "9pnet_virtio", "9p"}, true)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(names(s), " ")
	for _, want := range []string{"virtio_net", "net_failover", "failover", "9pnet", "9pnet_virtio", "9p", "netfs"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("closure %q lacks %s", got, want)
		}
	}
	var infos []*depmod.Info
	for _, m := range s.Modules {
		infos = append(infos, m.Info)
	}
	if m := matchAliases(depmod.AliasesOf(infos), "virtio:d00000001v00001AF4"); !reflect.DeepEqual(m, []string{"virtio_net"}) {
		t.Errorf("modalias of a virtio net device matches %v", m)
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add(kmodtest.ELF("name=a", "depends=b,c", "alias=x*", "softdep=pre: d post: e"))
	f.Add([]byte("\x7fELF"))
	f.Add([]byte{0xfd, '7', 'z', 'X', 'Z', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		depmod.ParseModinfo(data, "f.ko")
		depmod.ParseModinfoSection(data)
	})
}

func FuzzParseIndexes(f *testing.F) {
	f.Add("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n")
	f.Add("alias pci:v*d* foo\n# x\n")
	f.Fuzz(func(t *testing.T, s string) {
		kmod.ParseDep(strings.NewReader(s))
		as, _ := kmod.ParseAlias(strings.NewReader(s))
		matchAliases(as, "pci:v00001AF4d00001000")
	})
}

// TestDepmodAgrees compares, for every module of the Debian kernel that
// scripts/kernel.sh caches (whose package ships no modules.dep, so this
// package reads each module's .modinfo depends=), the dependencies
// Resolve finds with those kmod's depmod computes from the modules'
// symbols, and checks that each module's list loads from the end (every
// dependency's own dependencies come after it). depmod comes with the
// Debian package kmod.
func TestDepmodAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping a depmod run over a whole kernel")
	}
	depmodBin, err := exec.LookPath("depmod")
	if err != nil {
		depmodBin = "/usr/sbin/depmod"
		if _, err := os.Stat(depmodBin); err != nil {
			t.Fatal("depmod not installed: install the Debian package kmod")
		}
	}
	dir := debianModules(t)
	tr, err := depmod.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tr.HasDepFile() {
		t.Skip("the kernel package ships modules.dep: .modinfo is not used")
	}
	// depmod -n (dry run) -b ROOT VERSION reads ROOT/lib/modules/VERSION
	// and prints modules.dep first (up to the first comment line), then
	// the other indexes, leaving the cache alone.
	root := filepath.Dir(filepath.Dir(filepath.Dir(dir)))
	b, err := exec.Command(depmodBin, "-n", "-b", root, tr.Version()).Output()
	if err != nil {
		t.Fatalf("depmod -n: %v", err)
	}
	var depmodAliases []string
	if i := bytes.Index(b, []byte("\n#")); i >= 0 {
		// The next section is modules.alias.
		rest := string(b[i+1:])
		if j := strings.Index(rest[1:], "\n#"); j >= 0 {
			rest = rest[:j+1]
		}
		for _, l := range strings.Split(rest, "\n") {
			if strings.HasPrefix(l, "alias ") {
				depmodAliases = append(depmodAliases, l)
			}
		}
		b = b[:i+1]
	}
	// ParseDep keys the lines by module name and names the dependencies.
	lines, err := kmod.ParseDep(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for name, l := range lines {
		want[name] = l.Deps
	}
	if len(want) != len(tr.Names()) {
		t.Errorf("depmod lists %d modules, the tree has %d", len(want), len(tr.Names()))
	}
	bad := 0
	for _, name := range tr.Names() {
		s, err := tr.Resolve([]string{name}, false)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		direct := map[string][]string{}
		var got []string
		for _, m := range s.Modules {
			direct[m.Name] = m.Deps
			if m.Name == name {
				got = m.Deps
			}
		}
		if a, b := sortedCopy(got), sortedCopy(want[name]); !reflect.DeepEqual(a, b) {
			bad++
			if bad <= 10 {
				t.Errorf("%s: dependencies %v, depmod says %v", name, got, want[name])
			}
		}
		// Load order: from the end of the list, a module's dependencies
		// are loaded before it.
		pos := map[string]int{}
		for i, d := range got {
			pos[d] = i
		}
		for i, d := range got {
			for _, dd := range direct[d] {
				if pos[dd] <= i {
					t.Errorf("%s: %s is listed before its dependency %s: %v", name, dd, d, got)
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d modules differ from depmod", bad, len(tr.Names()))
	}
	// modules.alias of the whole kernel: the same lines as depmod's.
	infos, err := tr.AllInfos()
	if err != nil {
		t.Fatal(err)
	}
	var ab bytes.Buffer
	if err := depmod.WriteAlias(&ab, depmod.AliasesOf(infos)); err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, l := range strings.Split(ab.String(), "\n") {
		if strings.HasPrefix(l, "alias ") {
			ours = append(ours, l)
		}
	}
	if len(depmodAliases) == 0 {
		t.Error("no aliases in depmod's output")
	}
	if a, b := sortedCopy(ours), sortedCopy(depmodAliases); !reflect.DeepEqual(a, b) {
		t.Errorf("modules.alias: %d lines, depmod's %d; first difference: %s", len(a), len(b), firstDiff(a, b))
	}
	t.Logf("%d modules of kernel %s: same dependencies as depmod; %d aliases, the same as depmod's", len(tr.Names()), tr.Version(), len(ours))
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%q vs %q", a[i], b[i])
		}
	}
	return "one list is longer"
}

// matchAliases returns the modules whose alias pattern matches modalias,
// once each, in modules.alias order, as modprobe matches them (through
// kmod's own lookup: fnmatch, where path.Match would not let * cross a /).
func matchAliases(as []kmod.Alias, m string) []string {
	return (&kmod.Index{Aliases: as}).Lookup(m)
}
