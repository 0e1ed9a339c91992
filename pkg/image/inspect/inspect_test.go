package inspect

import (
	"bytes"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
)

func TestDiffAndFormat(t *testing.T) {
	a := []*cpio.Entry{{Name: "a", Mode: cpio.TypeRegular | 0o644, Data: []byte("x")}, {Name: "b", Mode: cpio.TypeSymlink | 0o777, Link: "a"}, {Name: "c", Mode: cpio.TypeDir | 0o755}}
	b := []*cpio.Entry{{Name: "a", Mode: cpio.TypeRegular | 0o755, Data: []byte("y")}, {Name: "b", Mode: cpio.TypeSymlink | 0o777, Link: "c"}, {Name: "d", Mode: cpio.TypeDir | 0o755}}
	got := strings.Join(Diff(a, b), "\n")
	want := "~ /a: mode -rw-r--r-- -> -rwxr-xr-x, contents differ\n~ /b: target a -> c\n- /c\n+ /d"
	if got != want {
		t.Errorf("Diff:\n%s\nwant:\n%s", got, want)
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("Diff(a, a) = %v", d)
	}
	for _, tc := range []struct {
		e    *cpio.Entry
		want string
	}{
		{&cpio.Entry{Name: "bin/sh", Mode: cpio.TypeSymlink | 0o777, Link: "../bbin/gosh"}, "lrwxrwxrwx         12 /bin/sh -> ../bbin/gosh"},
		{&cpio.Entry{Name: "tmp", Mode: cpio.TypeDir | 0o1777}, "drwxrwxrwt          0 /tmp"},
		{&cpio.Entry{Name: "dev/console", Mode: cpio.TypeChar | 0o600, Major: 5, Minor: 1}, "crw-------      5,   1 /dev/console"},
		{&cpio.Entry{Name: "su", Mode: cpio.TypeRegular | 0o4755, Data: []byte("abc")}, "-rwsr-xr-x          3 /su"},
	} {
		if got := FormatEntry(tc.e, true); got != tc.want {
			t.Errorf("FormatEntry = %q, want %q", got, tc.want)
		}
	}
}

func FuzzReadImage(f *testing.F) {
	a := cpio.NewArchive()
	a.File("x/y", 0o644, []byte("data"), "")
	a.Symlink("l", "x", "")
	var b bytes.Buffer
	a.WriteCPIO(&b, cpio.WriteOptions{})
	f.Add(b.Bytes())
	var z bytes.Buffer
	w, _ := compress.Writer(&z, "gzip")
	w.Write(b.Bytes())
	w.Close()
	f.Add(z.Bytes())
	f.Add(append(append(append([]byte(nil), b.Bytes()...), 0, 0, 0, 0), z.Bytes()...)) // microcode-style: plain, then gzip
	f.Add([]byte("070701"))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, _, err := ReadImage(bytes.NewReader(data))
		if err == nil {
			for _, e := range es {
				FormatEntry(e, true)
			}
		}
	})
}

// TestReadImageParts: uncompressed archives back to back, then one
// compressed stream (an initrd with early microcode), are read whole; data
// that cannot be read after a compressed stream is an error, not a
// silently shorter listing.
func TestReadImageParts(t *testing.T) {
	archive := func(comp string, names ...string) []byte {
		a := cpio.NewArchive()
		for _, n := range names {
			if err := a.File(n, 0o644, []byte(n), ""); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		w, err := compress.Writer(&b, comp)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WriteCPIO(w, cpio.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return b.Bytes()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	ucode := archive("none", "kernel/x86/microcode/GenuineIntel.bin")
	pad := make([]byte, 8)
	for _, tc := range []struct {
		name  string
		data  []byte
		comp  string
		names string
		err   string
	}{
		{"one uncompressed", ucode, "none", "kernel/x86/microcode/GenuineIntel.bin", ""},
		{"two uncompressed", cat(ucode, pad, archive("none", "init")), "none", "kernel/x86/microcode/GenuineIntel.bin init", ""},
		{"microcode then gzip", cat(ucode, archive("gzip", "init")), "gzip", "kernel/x86/microcode/GenuineIntel.bin init", ""},
		{"microcode then xz", cat(ucode, pad, archive("xz", "init", "bin/sh")), "xz", "kernel/x86/microcode/GenuineIntel.bin bin/sh init", ""},
		{"microcode then zstd", cat(ucode, archive("zstd", "init")), "zstd", "kernel/x86/microcode/GenuineIntel.bin init", ""},
		{"microcode then lz4", cat(ucode, archive("lz4", "init")), "lz4", "kernel/x86/microcode/GenuineIntel.bin init", ""},
		{"gzip members", cat(archive("gzip", "a"), archive("gzip", "b")), "gzip", "a b", ""},
		{"zstd frames", cat(archive("zstd", "a"), archive("zstd", "b")), "zstd", "a b", ""},
		{"xz streams", cat(archive("xz", "a"), archive("xz", "b")), "xz", "a b", ""},
		{"gzip then xz", cat(archive("gzip", "a"), archive("xz", "b")), "", "", "gzip-compressed data: after 1 entries: gzip: invalid header"},
		{"truncated", archive("gzip", "a", "b")[:40], "", "", "gzip-compressed data"},
		{"microcode then junk", cat(ucode, []byte("PK\x03\x04junk")), "", "", "after 4 entries of uncompressed archives: unknown format"},
		{"only NULs", pad, "", "", "not a newc cpio archive"},
		{"empty", nil, "", "", "not a newc cpio archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, comp, err := ReadImage(bytes.NewReader(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range es {
				if e.Mode&cpio.TypeMask == cpio.TypeRegular {
					names = append(names, e.Name)
				}
			}
			if comp != tc.comp || strings.Join(names, " ") != tc.names {
				t.Errorf("got %s %q, want %s %q", comp, names, tc.comp, tc.names)
			}
		})
	}
}
