package kmod

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

const testAlias = `# Aliases extracted from modules themselves.
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio_pci
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias virtio:d00000001v* virtio_net
alias virtio:d00000002v* virtio_blk
alias pci:v00008086d0000100Esv*sd*bc*sc*i* e1000
alias pci:v*d*sv*sd*bc0Csc03i30* xhci-pci
alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci_extra
alias acpi*:PNP0303:* i8042
alias platform:gone gone_mod
alias platform:cyc cyc_a
alias platform:blk blocked
alias platform:bi builtin_thing
`

const testDep = `kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_ring.ko: kernel/drivers/virtio/virtio.ko
kernel/drivers/virtio/virtio.ko:
kernel/drivers/net/virtio_net.ko.zst: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
kernel/drivers/usb/host/xhci-pci.ko: kernel/drivers/usb/host/xhci-hcd.ko
kernel/drivers/usb/host/xhci-hcd.ko:
kernel/drivers/usb/host/xhci_pci_extra.ko:
kernel/gone_mod.ko: kernel/gone_dep.ko
kernel/gone_dep.ko:
kernel/cyc_a.ko: kernel/cyc_b.ko
kernel/cyc_b.ko: kernel/cyc_a.ko
kernel/blocked.ko:
kernel/uses_builtin.ko: kernel/builtin_thing.ko
`

// fakeTree writes a module tree: the index files plus an empty file for
// every module in modules.dep except those in missing.
func fakeTree(t *testing.T, missing ...string) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(root, "modules.alias"), []byte(testAlias), 0o644))
	must(os.WriteFile(filepath.Join(root, "modules.dep"), []byte(testDep), 0o644))
	must(os.WriteFile(filepath.Join(root, "modules.builtin"), []byte("kernel/builtin_thing.ko\n"), 0o644))
	for _, line := range strings.Split(testDep, "\n") {
		p, _, ok := strings.Cut(line, ":")
		if !ok || slices.Contains(missing, Name(p)) {
			continue
		}
		must(os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		must(os.WriteFile(filepath.Join(root, p), nil, 0o644))
	}
	return root
}

type recorder struct {
	mu     sync.Mutex
	loaded []string // module names in load order
	params map[string]string
	fail   map[string]error
	root   string
}

func (r *recorder) load(path, params string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := Name(path)
	if err := r.fail[n]; err != nil {
		return err
	}
	rel, _ := filepath.Rel(r.root, path)
	if strings.HasPrefix(rel, "..") {
		return fmt.Errorf("path %s outside the tree", path)
	}
	r.loaded = append(r.loaded, n)
	if params != "" {
		if r.params == nil {
			r.params = map[string]string{}
		}
		r.params[n] = params
	}
	return nil
}

func (r *recorder) index(name string) int { return slices.Index(r.loaded, name) }

func newLoader(t *testing.T, o LoaderOptions, missing ...string) (*Loader, *recorder, *[]string) {
	t.Helper()
	root := fakeTree(t, missing...)
	idx, err := LoadIndex(root)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{root: root, fail: map[string]error{}}
	var logs []string
	var logMu sync.Mutex
	o.Load = rec.load
	o.Logf = func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		logMu.Unlock()
	}
	return NewLoader(idx, o), rec, &logs
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"kernel/drivers/usb/host/xhci-pci.ko":  "xhci_pci",
		"virtio_net.ko.zst":                    "virtio_net",
		"a/b/c.ko.xz":                          "c",
		"snd-hda-intel":                        "snd_hda_intel",
		"weird.kobj":                           "weird.kobj",
		"/lib/modules/6.1/kernel/foo.ko.gz":    "foo",
		"kernel/drivers/net/virtio_net.ko.xyz": "virtio_net",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	idx, err := LoadIndex(fakeTree(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		alias string
		want  []string
	}{
		{"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00", []string{"virtio_pci"}},
		{"virtio:d00000001v00001AF4", []string{"virtio_net"}},
		{"pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", []string{"xhci_pci", "xhci_pci_extra"}},
		{"acpi:PNP0303:", []string{"i8042"}},
		{"pci:v00001234d00001111sv00001AF4sd00001100bc03sc00i00", nil},
	}
	for _, tt := range tests {
		if got := idx.Lookup(tt.alias); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tt.alias, got, tt.want)
		}
	}
}

func TestOrder(t *testing.T) {
	idx, err := LoadIndex(fakeTree(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := idx.Order("virtio_net")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"virtio", "virtio_ring", "failover", "net_failover", "virtio_net"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Order(virtio_net) = %v, want %v", got, want)
	}
	if got, err := idx.Order("uses_builtin"); err != nil || !reflect.DeepEqual(got, []string{"uses_builtin"}) {
		t.Fatalf("Order(uses_builtin) = %v, %v", got, err)
	}
	if _, err := idx.Order("cyc_a"); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("Order(cyc_a) err = %v, want cycle", err)
	}
	if _, err := idx.Order("nope"); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Fatalf("Order(nope) err = %v", err)
	}
}

func TestLoadAliasDepOrder(t *testing.T) {
	l, rec, logs := newLoader(t, LoaderOptions{})
	if err := l.LoadAlias("virtio:d00000001v00001AF4", "/devices/pci0000:00/0000:00:03.0/virtio0"); err != nil {
		t.Fatal(err)
	}
	if len(rec.loaded) != 5 {
		t.Fatalf("loaded %v, want 5 modules", rec.loaded)
	}
	before := [][2]string{{"virtio", "virtio_ring"}, {"failover", "net_failover"}, {"net_failover", "virtio_net"}, {"virtio_ring", "virtio_net"}, {"virtio", "virtio_net"}}
	for _, b := range before {
		if rec.index(b[0]) < 0 || rec.index(b[0]) > rec.index(b[1]) {
			t.Errorf("%s must load before %s: %v", b[0], b[1], rec.loaded)
		}
	}
	want := "loaded virtio_net (for virtio:d00000001v00001AF4 on /devices/pci0000:00/0000:00:03.0/virtio0)"
	if !slices.Contains(*logs, want) {
		t.Errorf("logs %q lack %q", *logs, want)
	}
	found := false
	for _, s := range *logs {
		if strings.HasPrefix(s, "loaded failover (needed by ") {
			found = true
		}
	}
	if !found {
		t.Errorf("no 'needed by' log for failover: %q", *logs)
	}
}

func TestLoadDedupeConcurrent(t *testing.T) {
	l, rec, _ := newLoader(t, LoaderOptions{Loaded: []string{"virtio-pci-modern-dev"}})
	aliases := []string{
		"virtio:d00000001v00001AF4", "virtio:d00000002v00001AF4",
		"pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00",
		"pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00",
	}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.LoadAlias(aliases[i%len(aliases)], fmt.Sprintf("/devices/d%d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, m := range rec.loaded {
		counts[m]++
	}
	for m, n := range counts {
		if n != 1 {
			t.Errorf("%s loaded %d times", m, n)
		}
	}
	if counts["virtio_pci_modern_dev"] != 0 {
		t.Errorf("already-loaded module loaded again")
	}
	for _, m := range []string{"virtio", "virtio_ring", "virtio_net", "virtio_blk", "virtio_pci", "failover", "net_failover"} {
		if counts[m] != 1 {
			t.Errorf("%s not loaded: %v", m, rec.loaded)
		}
	}
	if rec.index("virtio_ring") > rec.index("virtio_blk") || rec.index("virtio") > rec.index("virtio_ring") {
		t.Errorf("order wrong: %v", rec.loaded)
	}
}

func TestLoadAllMatches(t *testing.T) {
	l, rec, _ := newLoader(t, LoaderOptions{})
	if err := l.LoadAlias("pci:v00001B36d0000000Dsv00001AF4sd00001100bc0Csc03i30", ""); err != nil {
		t.Fatal(err)
	}
	slices.Sort(rec.loaded)
	if want := []string{"xhci_hcd", "xhci_pci", "xhci_pci_extra"}; !reflect.DeepEqual(rec.loaded, want) {
		t.Fatalf("loaded %v, want %v", rec.loaded, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	l, rec, logs := newLoader(t, LoaderOptions{}, "gone_dep")
	err := l.LoadAlias("platform:gone", "/devices/platform/gone")
	if err == nil {
		t.Fatal("want error")
	}
	if len(rec.loaded) != 0 {
		t.Fatalf("loaded %v, want nothing", rec.loaded)
	}
	joined := strings.Join(*logs, "\n")
	if !strings.Contains(joined, "gone_dep.ko is missing") || !strings.Contains(joined, "cannot load gone_mod") {
		t.Fatalf("logs do not name the missing file: %s", joined)
	}
	// The failure is remembered: no second attempt, no second log line.
	n := len(*logs)
	if err := l.LoadAlias("platform:gone", "/devices/platform/gone2"); err == nil {
		t.Fatal("want error the second time too")
	}
	if len(*logs) != n {
		t.Fatalf("a remembered failure was logged again: %q", (*logs)[n:])
	}
}

func TestLoadErrorsAndOptions(t *testing.T) {
	params, bl := CmdlineOptions(`console=ttyS0 virtio_net.napi_tx=1 virtio-net.foo="a b" modprobe.blacklist=blocked,e1000 quiet`)
	l, rec, logs := newLoader(t, LoaderOptions{Params: params, Blacklist: bl})
	if err := l.LoadAlias("platform:cyc", ""); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: err = %v", err)
	}
	if err := l.LoadAlias("platform:blk", ""); err != nil {
		t.Errorf("blacklisted: err = %v", err)
	}
	if err := l.LoadAlias("platform:bi", ""); err != nil {
		t.Errorf("builtin: err = %v", err)
	}
	if err := l.Load("uses_builtin", "test"); err != nil {
		t.Errorf("uses_builtin: %v", err)
	}
	if err := l.LoadAlias("virtio:d00000001v00001AF4", ""); err != nil {
		t.Fatal(err)
	}
	if got := rec.params["virtio_net"]; got != `napi_tx=1 foo="a b"` {
		t.Errorf("params = %q", got)
	}
	if slices.Contains(rec.loaded, "blocked") || slices.Contains(rec.loaded, "builtin_thing") {
		t.Errorf("loaded %v", rec.loaded)
	}
	if !slices.Contains(*logs, "not loading blocked (for platform:blk): blacklisted") {
		t.Errorf("logs: %q", *logs)
	}
	rec.fail["e1000"] = fmt.Errorf("boom")
	delete(bl, "e1000")
	if err := l.LoadAlias("pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00", "/devices/x"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("e1000 err = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := ParseAlias(strings.NewReader("alias a b\nalias only-two\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParseAlias err = %v", err)
	}
	if _, err := ParseDep(strings.NewReader("a.ko:\nno colon here\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParseDep err = %v", err)
	}
	if _, err := ParseBuiltin(strings.NewReader("a.ko\nb c\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParseBuiltin err = %v", err)
	}
	if _, err := LoadIndex(t.TempDir()); err == nil || !os.IsNotExist(err) {
		t.Errorf("LoadIndex on empty dir: %v", err)
	}
}

func TestProcModules(t *testing.T) {
	p := filepath.Join(t.TempDir(), "modules")
	os.WriteFile(p, []byte("virtio_net 77824 0 - Live 0x0000000000000000\nfailover 12288 1 net_failover, Live 0x0\n"), 0o644)
	got, err := ProcModules(p)
	if err != nil || !reflect.DeepEqual(got, []string{"virtio_net", "failover"}) {
		t.Fatalf("ProcModules = %v, %v", got, err)
	}
}

func TestDecompress(t *testing.T) {
	data := bytes.Repeat([]byte("\x7fELF module image "), 1000)
	var gz, xzb, zs bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(data)
	gw.Close()
	xw, err := xz.NewWriter(&xzb)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(data)
	xw.Close()
	zw, err := zstd.NewWriter(&zs)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	zw.Close()
	for ext, b := range map[string][]byte{".gz": gz.Bytes(), ".xz": xzb.Bytes(), ".zst": zs.Bytes(), "": data} {
		got, err := Decompress(b)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: err %v, equal %v", ext, err, bytes.Equal(got, data))
		}
	}
	if err := LoadFile(filepath.Join(t.TempDir(), "x.ko.bz2"), ""); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
	p := filepath.Join(t.TempDir(), "x.ko.bz2")
	os.WriteFile(p, nil, 0o644)
	if err := LoadFile(p, ""); err == nil || !strings.Contains(err.Error(), "unknown module file type") {
		t.Errorf("LoadFile .bz2: %v", err)
	}
}

func FuzzParseAlias(f *testing.F) {
	f.Add(testAlias)
	f.Add("alias\n")
	f.Fuzz(func(t *testing.T, s string) {
		as, err := ParseAlias(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, a := range as {
			if a.Pattern == "" || a.Module == "" {
				t.Fatalf("empty alias %+v", a)
			}
		}
	})
}

func FuzzParseDep(f *testing.F) {
	f.Add(testDep)
	f.Add("a.ko: b.ko c.ko\nb.ko: a.ko\n")
	f.Fuzz(func(t *testing.T, s string) {
		deps, err := ParseDep(strings.NewReader(s))
		if err != nil {
			return
		}
		idx := &Index{Deps: deps, Builtin: map[string]bool{}}
		for name := range deps {
			order, err := idx.Order(name)
			if err != nil {
				continue
			}
			// Every module appears once, after all of its dependencies.
			pos := map[string]int{}
			for i, m := range order {
				if _, dup := pos[m]; dup {
					t.Fatalf("%s twice in %v", m, order)
				}
				pos[m] = i
			}
			for _, m := range order {
				for _, d := range deps[m].Deps {
					if pos[d] > pos[m] {
						t.Fatalf("%s before its dependency %s: %v", m, d, order)
					}
				}
			}
		}
	})
}

func TestNormalizeAlias(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"pci:v00001AF4d*", "pci:v00001AF4d*", true},
		{"of:N*T*Cvendor,my-dev", "of:N*T*Cvendor,my_dev", true},
		{"input:b*v*p*e*-e*1,*", "input:b*v*p*e*_e*1,*", true},
		{"usb:v05ACp8403d0[0-5]*dc*", "usb:v05ACp8403d0[0-5]*dc*", true}, // "-" in a set stays
		{"a-[x-z]-b", "a_[x-z]_b", true},
		{"a]b", "", false},
		{"a[bc", "", false},
		{"[]]", "", false}, // kmod closes the set at the first "]"
		{"", "", true},
	}
	for _, tt := range tests {
		got, ok := NormalizeAlias(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NormalizeAlias(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestLookupPrecedence: kmod's order without modprobe.d: a module
// name, then modules.alias (all matches), then modules.builtin, then
// modules.builtin.alias; the first source with a match wins.
func TestLookupPrecedence(t *testing.T) {
	root := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(root, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("modules.alias", `alias platform:dual first_mod
alias platform:dual* second_mod
alias platform:dual first_mod
alias of:N*T*Cacme,my-dev acme_dev
alias platform:in_both loadable_mod
alias virtio_net alias_named_like_a_module
alias platform:a]b bad_pattern
alias platform:x[y bad_pattern
`)
	write("modules.dep", `kernel/first_mod.ko:
kernel/second_mod.ko:
kernel/acme-dev.ko:
kernel/loadable_mod.ko:
kernel/virtio_net.ko:
kernel/bad_pattern.ko:
`)
	write("modules.builtin", "kernel/drivers/tty/serial/8250/8250.ko\nkernel/in_kernel.ko\n")
	os.MkdirAll(filepath.Join(root, "kernel"), 0o755)
	write("kernel/loadable_mod.ko", "")
	write("modules.builtin.alias", "alias platform:serial8250 8250\nalias platform:in_both in_kernel\nalias acpi*:PNP0501:* 8250\n")
	idx, err := LoadIndex(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		alias string
		want  []string
	}{
		{"platform:dual", []string{"first_mod", "second_mod"}}, // every match, file order, once each
		{"platform:dualx", []string{"second_mod"}},
		{"of:NdevTtypeCacme,my-dev", []string{"acme_dev"}}, // "-" and "_" are one
		{"of:NdevTtypeCacme,my_dev", []string{"acme_dev"}},
		{"virtio-net", []string{"virtio_net"}},         // a module name beats an alias of that text
		{"platform:in_both", []string{"loadable_mod"}}, // modules.alias beats modules.builtin.alias
		{"platform:serial8250", []string{"8250"}},      // built in: Load skips it
		{"acpi:PNP0501:", []string{"8250"}},            // idem, by pattern
		{"in-kernel", []string{"in_kernel"}},           // modules.builtin by name
		{"platform:a]b", nil},                          // kmod rejects the MODALIAS
		{"platform:x[y", nil},                          // idem
		{"platform:nothing", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := idx.Lookup(tt.alias); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tt.alias, got, tt.want)
		}
	}
	for _, a := range idx.Aliases {
		if a.Module == "bad_pattern" {
			t.Errorf("a pattern kmod rejects is in the index: %+v", a)
		}
	}
	// Built-in modules found by alias are not loaded and not an error.
	var loaded []string
	l := NewLoader(idx, LoaderOptions{Load: func(p, _ string) error { loaded = append(loaded, Name(p)); return nil }})
	for _, a := range []string{"platform:serial8250", "acpi:PNP0501:", "platform:in_both"} {
		if err := l.LoadAlias(a, ""); err != nil {
			t.Errorf("LoadAlias(%q): %v", a, err)
		}
	}
	if !reflect.DeepEqual(loaded, []string{"loadable_mod"}) {
		t.Errorf("loaded %v, want [loadable_mod]", loaded)
	}
}

// TestReloadAfterRemoval: a module removed since it was loaded (IsLoaded
// says no) is loaded again for the next device, its dependencies only if
// they are gone too; without IsLoaded, once loaded is loaded for good.
func TestReloadAfterRemoval(t *testing.T) {
	present := map[string]bool{}
	var mu sync.Mutex
	isLoaded := func(n string) bool { mu.Lock(); defer mu.Unlock(); return present[n] }
	l, rec, logs := newLoader(t, LoaderOptions{IsLoaded: isLoaded})
	rl := rec.load
	rec2 := func(path, params string) error {
		if err := rl(path, params); err != nil {
			return err
		}
		mu.Lock()
		present[Name(path)] = true
		mu.Unlock()
		return nil
	}
	l.load = rec2
	const alias = "virtio:d00000001v00001AF4"
	if err := l.LoadAlias(alias, "/devices/virtio0"); err != nil {
		t.Fatal(err)
	}
	if err := l.LoadAlias(alias, "/devices/virtio0"); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.loaded); n != 5 {
		t.Fatalf("loaded %v: want 5 loads, none repeated while loaded", rec.loaded)
	}
	mu.Lock()
	delete(present, "virtio_net") // rmmod virtio_net
	mu.Unlock()
	if err := l.LoadAlias(alias, "/devices/virtio0"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"virtio_net"}; !reflect.DeepEqual(rec.loaded[5:], want) {
		t.Fatalf("after rmmod: loaded %v, want %v again (and only it)", rec.loaded[5:], want)
	}
	if c := strings.Count(strings.Join(*logs, "\n"), "loaded virtio_net (for "+alias); c != 2 {
		t.Errorf("%d 'loaded virtio_net' lines, want 2: %q", c, *logs)
	}

	// Without IsLoaded: no reload.
	l2, rec2b, _ := newLoader(t, LoaderOptions{})
	for i := 0; i < 2; i++ {
		if err := l2.LoadAlias(alias, ""); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec2b.loaded) != 5 {
		t.Fatalf("loaded %v", rec2b.loaded)
	}
}

func TestSysfsLoaded(t *testing.T) {
	sys := t.TempDir()
	os.MkdirAll(filepath.Join(sys, "module", "virtio_net"), 0o755)
	os.WriteFile(filepath.Join(sys, "module", "virtio_net", "initstate"), []byte("live\n"), 0o444)
	os.MkdirAll(filepath.Join(sys, "module", "printk", "parameters"), 0o755) // built in: no initstate
	f := SysfsLoaded(sys)
	for name, want := range map[string]bool{"virtio_net": true, "printk": false, "absent": false} {
		if got := f(name); got != want {
			t.Errorf("SysfsLoaded(%s) = %v, want %v", name, got, want)
		}
	}
}

func FuzzLookup(f *testing.F) {
	f.Add("pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00")
	f.Add("of:NdevTtypeCacme,my-dev")
	f.Add("a]b[")
	f.Add("virtio-net")
	f.Fuzz(func(t *testing.T, alias string) {
		idx := &Index{Deps: map[string]Dep{"virtio_net": {}}, Builtin: map[string]bool{}}
		idx.Aliases, _ = ParseAlias(strings.NewReader(testAlias))
		got := idx.Lookup(alias)
		seen := map[string]bool{}
		for _, m := range got {
			if seen[m] || m == "" {
				t.Fatalf("Lookup(%q) = %v: duplicate or empty", alias, got)
			}
			seen[m] = true
		}
	})
}

const testSoftdep = `# Soft dependencies extracted from modules themselves.
softdep crc_t10dif pre: crct10dif
softdep crc_t10dif pre: never_used
softdep intel-lpss-pci pre: idma64 post: lpss_helper
softdep cifs gcm
softdep snd_* post: snd_helper
softdep cyc_x pre: cyc_y
softdep cyc_y pre: cyc_x
softdep needs_broken pre: broken_soft
not a softdep line
softdep
`

func TestParseSoftdep(t *testing.T) {
	got, err := ParseSoftdep(strings.NewReader(testSoftdep))
	if err != nil {
		t.Fatal(err)
	}
	want := []Softdep{
		{Module: "crc_t10dif", Pre: []string{"crct10dif"}},
		{Module: "crc_t10dif", Pre: []string{"never_used"}},
		{Module: "intel_lpss_pci", Pre: []string{"idma64"}, Post: []string{"lpss_helper"}},
		{Module: "cifs"}, // names before pre:/post: count for nothing, as with kmod
		{Module: "snd_*", Post: []string{"snd_helper"}},
		{Module: "cyc_x", Pre: []string{"cyc_y"}},
		{Module: "cyc_y", Pre: []string{"cyc_x"}},
		{Module: "needs_broken", Pre: []string{"broken_soft"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseSoftdep =\n%+v\nwant\n%+v", got, want)
	}
}

// softTree is a module tree with soft dependencies (module files all
// present except broken_soft's).
func softTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"modules.alias": `alias crct10dif crct10dif_pclmul
alias crct10dif crct10dif_generic
alias pci:v00008086d00009D60* intel_lpss_pci
alias pci:v00001234* snd_card
alias platform:t10 crc_t10dif
alias platform:cyc cyc_x
alias platform:nb needs_broken
`,
		"modules.dep": `kernel/crc-t10dif.ko: kernel/crct10dif_common.ko
kernel/crct10dif_common.ko:
kernel/crct10dif-pclmul.ko: kernel/crct10dif_common.ko
kernel/crct10dif_generic.ko: kernel/crct10dif_common.ko
kernel/never_used.ko:
kernel/intel-lpss-pci.ko: kernel/intel-lpss.ko
kernel/intel-lpss.ko:
kernel/idma64.ko:
kernel/lpss_helper.ko:
kernel/snd_card.ko: kernel/snd_core.ko
kernel/snd_core.ko:
kernel/snd_helper.ko:
kernel/cyc_x.ko:
kernel/cyc_y.ko:
kernel/needs_broken.ko:
kernel/broken_soft.ko:
`,
		"modules.softdep": testSoftdep,
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "kernel"), 0o755)
	for _, line := range strings.Split(files["modules.dep"], "\n") {
		if p, _, ok := strings.Cut(line, ":"); ok && !strings.Contains(p, "broken_soft") {
			os.WriteFile(filepath.Join(root, p), nil, 0o644)
		}
	}
	return root
}

func TestSoftdepsOf(t *testing.T) {
	idx, err := LoadIndex(softTree(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mod       string
		pre, post []string
	}{
		{"crc_t10dif", []string{"crct10dif_pclmul", "crct10dif_generic"}, nil}, // alias resolved; first line only
		{"intel_lpss_pci", []string{"idma64"}, []string{"lpss_helper"}},
		{"snd_card", nil, []string{"snd_helper"}}, // glob
		{"snd_helper", nil, nil},                  // itself left out
		{"cifs", nil, nil},
		{"idma64", nil, nil},
	}
	for _, tt := range tests {
		pre, post := idx.SoftdepsOf(tt.mod)
		if !reflect.DeepEqual(pre, tt.pre) || !reflect.DeepEqual(post, tt.post) {
			t.Errorf("SoftdepsOf(%s) = %v, %v; want %v, %v", tt.mod, pre, post, tt.pre, tt.post)
		}
	}
}

// TestLoadSoftdeps: pre soft dependencies load before the module, post
// ones after it, theirs too; a soft dependency that fails does not stop
// the module; mutual pre soft dependencies do not deadlock.
func TestLoadSoftdeps(t *testing.T) {
	root := softTree(t)
	idx, err := LoadIndex(root)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{root: root, fail: map[string]error{}}
	var logs []string
	var logMu sync.Mutex
	l := NewLoader(idx, LoaderOptions{Load: rec.load, Logf: func(f string, a ...any) {
		logMu.Lock()
		logs = append(logs, fmt.Sprintf(f, a...))
		logMu.Unlock()
	}})
	before := func(a, b string) {
		t.Helper()
		if ia, ib := rec.index(a), rec.index(b); ia < 0 || ib < 0 || ia > ib {
			t.Errorf("%s must load before %s: %v", a, b, rec.loaded)
		}
	}
	if err := l.LoadAlias("pci:v00008086d00009D60sv0sd0bc0sc0i0", "/devices/lpss"); err != nil {
		t.Fatal(err)
	}
	before("intel_lpss", "intel_lpss_pci")
	before("idma64", "intel_lpss_pci")
	before("intel_lpss_pci", "lpss_helper")
	if err := l.LoadAlias("platform:t10", ""); err != nil {
		t.Fatal(err)
	}
	before("crct10dif_pclmul", "crc_t10dif")
	before("crct10dif_generic", "crc_t10dif")
	before("crct10dif_common", "crct10dif_pclmul")
	if slices.Contains(rec.loaded, "never_used") {
		t.Errorf("the second softdep line of a module was used: %v", rec.loaded)
	}
	if err := l.LoadAlias("pci:v00001234d0001", ""); err != nil {
		t.Fatal(err)
	}
	before("snd_card", "snd_helper")
	// A broken soft dependency is logged; the module loads anyway.
	if err := l.LoadAlias("platform:nb", "/devices/nb"); err != nil {
		t.Fatalf("a failed soft dependency failed the module: %v", err)
	}
	if !slices.Contains(rec.loaded, "needs_broken") {
		t.Errorf("needs_broken not loaded: %v", rec.loaded)
	}
	joined := strings.Join(logs, "\n")
	for _, want := range []string{
		"loaded idma64 (soft dependency of intel_lpss_pci, for pci:v00008086d00009D60sv0sd0bc0sc0i0 on /devices/lpss)",
		"loaded lpss_helper (soft dependency (post) of intel_lpss_pci, for pci:v00008086d00009D60sv0sd0bc0sc0i0 on /devices/lpss)",
		"cannot load broken_soft (soft dependency of needs_broken, for platform:nb on /devices/nb): module file",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("logs lack %q:\n%s", want, joined)
		}
	}
	// Mutual pre soft dependencies, asked for from both sides at once.
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(2)
			go func() { defer wg.Done(); l.Load("cyc_x", "test") }()
			go func() { defer wg.Done(); l.Load("cyc_y", "test") }()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("mutual soft dependencies deadlocked")
	}
	counts := map[string]int{}
	for _, m := range rec.loaded {
		counts[m]++
	}
	for m, n := range counts {
		if n != 1 {
			t.Errorf("%s loaded %d times", m, n)
		}
	}
	if counts["cyc_x"] != 1 || counts["cyc_y"] != 1 {
		t.Errorf("cyc_x/cyc_y not loaded: %v", rec.loaded)
	}
}

func FuzzParseSoftdep(f *testing.F) {
	f.Add(testSoftdep)
	f.Add("softdep a pre: b post: c pre: d\n")
	f.Fuzz(func(t *testing.T, s string) {
		sds, err := ParseSoftdep(strings.NewReader(s))
		if err != nil {
			return
		}
		idx := &Index{Deps: map[string]Dep{"a": {}, "b": {}}, Builtin: map[string]bool{}, Softdeps: sds}
		for _, m := range []string{"a", "b"} {
			pre, post := idx.SoftdepsOf(m)
			if slices.Contains(pre, m) || slices.Contains(post, m) {
				t.Fatalf("%s is its own soft dependency: %v %v", m, pre, post)
			}
		}
		// Loader construction must terminate on any soft graph.
		NewLoader(idx, LoaderOptions{Load: func(string, string) error { return nil }})
	})
}
