package bootmenu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/boot"
)

// writeTree writes files (path: content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A partition as an installed system leaves it: two BLS entries (one
// the loader.conf default), a GRUB config whose default is its second
// entry, and an extlinux config.
var partition = map[string]string{
	"vmlinuz-a":                  "kernel a",
	"initrd-a":                   "initrd a",
	"vmlinuz-b":                  "kernel b",
	"loader/loader.conf":         "default b*\ntimeout 3\n",
	"loader/entries/a-6.1.conf":  "title Alpha\nversion 6.1\nlinux /vmlinuz-a\ninitrd /initrd-a\noptions console=ttyS0 quiet\n",
	"loader/entries/b-6.2.conf":  "title Beta\nlinux /vmlinuz-b\noptions root=LABEL=b\n",
	"loader/entries/broken.conf": "title Broken\nlinux /no-such-kernel\n",
	"boot/grub/grub.cfg":         "set default='Gamma rescue'\nset timeout=5\nmenuentry 'Gamma' {\n  linux /vmlinuz-a console=ttyS0 svinit.hostname=gamma\n  initrd /initrd-a\n}\nmenuentry 'Gamma rescue' --class rescue {\n  linux /vmlinuz-a single\n}\n",
	"extlinux/extlinux.conf":     "default delta\nlabel delta\n  kernel /vmlinuz-b\n  append console=ttyS0 delta=1\n",
}

func TestParseDir(t *testing.T) {
	dir := writeTree(t, partition)
	entries, errs := ParseDir(context.Background(), dir, "vda1", nil, nil)
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	entries = Order(entries)
	type row struct{ title, format, cmdline string }
	want := []row{
		{"Beta", FormatBLS, "root=LABEL=b"},
		{"Alpha 6.1", FormatBLS, "console=ttyS0 quiet"},
		{"Gamma rescue", FormatGRUB, "single"},
		{"Gamma", FormatGRUB, "console=ttyS0 svinit.hostname=gamma"},
		{"delta", FormatSyslinux, "console=ttyS0 delta=1"},
	}
	var got []row
	for _, e := range entries {
		got = append(got, row{e.Title, e.Format, e.Cmdline()})
		if e.Device != "vda1" {
			t.Errorf("%s: device %q", e.Title, e.Device)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %q, want %q", i+1, got[i], want[i])
		}
	}
	// The kernels are the files the configs name.
	li := entries[3].Image.(*boot.LinuxImage)
	b := make([]byte, 8)
	if n, _ := li.Kernel.ReadAt(b, 0); string(b[:n]) != "kernel a" {
		t.Errorf("Gamma's kernel reads %q", b[:n])
	}
	if n, _ := li.Initrd.ReadAt(b, 0); string(b[:n]) != "initrd a" {
		t.Errorf("Gamma's initrd reads %q", b[:n])
	}
}

func TestParseDirNothing(t *testing.T) {
	dir := writeTree(t, map[string]string{"etc/fstab": "# not a boot partition\n"})
	entries, errs := ParseDir(context.Background(), dir, "vdb", nil, nil)
	if len(entries) != 0 || len(errs) != 3 {
		t.Fatalf("entries %v, errors %v; want none, and one error per format", entries, errs)
	}
	for i, f := range []string{"vdb BLS", "vdb GRUB", "vdb syslinux"} {
		if !strings.HasPrefix(errs[i].Error(), f) {
			t.Errorf("error %d: %v, want it to start with %q", i, errs[i], f)
		}
	}
}

func TestOrderDropsRepeats(t *testing.T) {
	mk := func(title, cmdline, dev string, rank int) Entry {
		return Entry{Title: title, Device: dev, Image: &boot.LinuxImage{Name: title, Cmdline: cmdline, BootRank: rank}}
	}
	got := Order([]Entry{mk("A", "x", "vda1", 0), mk("B", "y", "vda1", 1), mk("A", "x", "vda1", 1), mk("A", "x", "vdb1", 0), mk("A", "z", "vda1", 0)})
	var titles []string
	for _, e := range got {
		titles = append(titles, e.Title+"/"+e.Cmdline()+"/"+e.Device)
	}
	want := "B/y/vda1 A/x/vda1 A/x/vdb1 A/z/vda1"
	if strings.Join(titles, " ") != want {
		t.Errorf("order %q, want %q", titles, want)
	}
}

func TestPick(t *testing.T) {
	entries := []Entry{{Title: "Debian GNU/Linux"}, {Title: "debian gnu/linux (rescue)"}, {Title: "Fedora"}, {Title: "fedora"}}
	for _, tc := range []struct {
		spec    string
		want    int
		wantErr string
	}{
		{"1", 0, ""},
		{"4", 3, ""},
		{"0", -1, "no entry 0: there are 4"},
		{"5", -1, "no entry 5"},
		{"Debian GNU/Linux", 0, ""},
		{"DEBIAN GNU/LINUX", 0, ""},
		{"fedora", 3, ""},
		{"FEDORA", -1, "more than one entry"},
		{"Arch", -1, `no entry titled "Arch" (1) "Debian GNU/Linux", 2)`},
	} {
		got, err := Pick(entries, tc.spec)
		if got != tc.want || (tc.wantErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Pick(%q) = %d, %v; want %d, %q", tc.spec, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestLocalFiles: BLS's open files and GRUB's and syslinux's file: URLs
// name the files on the partition; a gzip'd kernel needs u-root's
// loader.
func TestLocalFiles(t *testing.T) {
	files := map[string]string{}
	for k, v := range partition {
		files[k] = v
	}
	files["vmlinuz-gz"] = "\x1f\x8b\x08gzip"
	files["boot/grub/grub.cfg"] = "menuentry 'Gamma' {\n  linux /vmlinuz-a\n  initrd /initrd-a\n}\nmenuentry 'Zipped' {\n  linux /vmlinuz-gz\n}\n"
	dir := writeTree(t, files)
	entries, _ := ParseDir(context.Background(), dir, "vda1", nil, nil)
	got := map[string]string{}
	for _, e := range entries {
		k, i, ok := LocalFiles(e)
		if !ok {
			got[e.Title] = "not local"
			continue
		}
		k, _ = filepath.Rel(dir, k)
		if i != "" {
			i, _ = filepath.Rel(dir, i)
		}
		got[e.Title] = k + " " + i
	}
	want := map[string]string{
		"Alpha 6.1": "vmlinuz-a initrd-a",
		"Beta":      "vmlinuz-b ",
		"Gamma":     "vmlinuz-a initrd-a",
		"Zipped":    "not local",
		"delta":     "vmlinuz-b ",
	}
	for title, w := range want {
		if got[title] != w {
			t.Errorf("%s: %q, want %q", title, got[title], w)
		}
	}
	if _, _, ok := LocalFiles(Entry{Title: "x", Image: &boot.MultibootImage{}}); ok {
		t.Error("a multiboot image taken as local Linux files")
	}
}
