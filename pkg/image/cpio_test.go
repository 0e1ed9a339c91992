package image

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func timeNow() time.Time { return time.Now() }

func hex8(v uint64) string { return fmt.Sprintf("%08X", v) }

func parseHex(s string) uint64 {
	v, _ := strconv.ParseUint(s, 16, 32)
	return v
}

func align4(n int) int { return (n + 3) &^ 3 }

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestArchiveAdd(t *testing.T) {
	a := NewArchive()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.File("etc/x/y", 0o600, []byte("y"), "p"))
	if e, ok := a.Get("/etc/x"); !ok || e.Mode != TypeDir|0o755 {
		t.Errorf("implicit parent: %+v %v", e, ok)
	}
	must(a.Dir("etc/x", 0o700, "p")) // an explicit mode wins over an implicit parent
	if e, _ := a.Get("etc/x"); e.Mode != TypeDir|0o700 {
		t.Errorf("explicit dir mode %o", e.Mode)
	}
	must(a.Symlink("bin/sh", "gosh", "p"))
	must(a.Symlink("bin/sh", "gosh", "q")) // identical: fine
	for _, tc := range []struct {
		err  error
		want string
	}{
		{a.Symlink("bin/sh", "other", "q"), "/bin/sh: added twice"},
		{a.File("etc/x/y", 0o600, []byte("z"), "q"), "/etc/x/y: added twice"},
		{a.File("etc/x/y/z", 0o600, nil, "q"), "parent /etc/x/y is not a directory"},
		{a.Dir("etc/x", 0o755, "q"), "/etc/x: added twice"},
		{a.File("/", 0o600, nil, "q"), "image root"},
		{a.File("a\x00b", 0o600, nil, "q"), "NUL"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
	if _, ok := a.Get("../../etc/x/y"); !ok {
		t.Error("paths are not confined to the root")
	}
}

func TestCPIORoundTrip(t *testing.T) {
	a := NewArchive()
	a.File("a/file", 0o4755, []byte("hello"), "")
	a.File("a/empty", 0o644, nil, "")
	a.Symlink("a/link", "file", "")
	a.Add(&Entry{Name: "dev/tty", Mode: TypeChar | 0o666, Major: 5, Minor: 0})
	a.Add(&Entry{Name: "fifo", Mode: TypeFIFO | 0o600})
	var b bytes.Buffer
	if err := a.WriteCPIO(&b, WriteOptions{MTime: 42}); err != nil {
		t.Fatal(err)
	}
	if b.Len()%4 != 0 {
		t.Errorf("archive length %d not a multiple of 4", b.Len())
	}
	// Two archives back to back with NUL padding, as the kernel accepts.
	twice := append(append(append([]byte(nil), b.Bytes()...), make([]byte, 512)...), b.Bytes()...)
	for _, data := range [][]byte{b.Bytes(), twice} {
		es, err := ReadCPIO(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want := a.Entries()
		if len(es) != len(want) && len(es) != 2*len(want) {
			t.Fatalf("%d entries, want %d", len(es), len(want))
		}
		for i, e := range es {
			w := want[i%len(want)]
			if e.Name != w.Name || e.Mode != w.Mode || string(e.Data) != string(w.Data) || e.Link != w.Link || e.Major != w.Major || e.Minor != w.Minor {
				t.Errorf("entry %d: %+v, want %+v", i, e, w)
			}
		}
	}
	for _, bad := range []string{"", "hello world", "070701zz", strings.Repeat("0", 200), "070701" + strings.Repeat("0", 104)} {
		if _, err := ReadCPIO(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadCPIO(%q) succeeded", bad)
		}
	}
	// Truncated archive.
	if _, err := ReadCPIO(bytes.NewReader(b.Bytes()[:b.Len()-20])); err == nil {
		t.Error("truncated archive read without error")
	}
}

func TestCompressionRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("svinit initramfs "), 100000)
	for _, c := range Compressions {
		var b bytes.Buffer
		w, err := Compress(&b, c)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if c != "none" && b.Len() >= len(data) {
			t.Errorf("%s did not compress", c)
		}
		if got := Detect(b.Bytes()); got != c && !(c == "none" && got == "") {
			t.Errorf("%s detected as %q", c, got)
		}
		switch c {
		case "xz":
			// Stream flags (bytes 6-7): check type 1 = CRC32, what the kernel accepts.
			if b.Bytes()[6] != 0 || b.Bytes()[7] != 1 {
				t.Errorf("xz stream flags % x, want 00 01 (CRC32)", b.Bytes()[6:8])
			}
		case "lz4":
			if !bytes.HasPrefix(b.Bytes(), []byte{0x02, 0x21, 0x4c, 0x18}) {
				t.Errorf("lz4 magic % x, want the legacy frame's 02 21 4c 18", b.Bytes()[:4])
			}
		case "gzip":
			if m := b.Bytes()[4:8]; !bytes.Equal(m, []byte{0, 0, 0, 0}) {
				t.Errorf("gzip header mtime % x", m)
			}
		}
		if c == "none" {
			continue
		}
		r, name, err := Decompress(&b)
		if err != nil || name != c {
			t.Fatalf("%s: Decompress: %v %s", c, err, name)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: round trip: %d bytes, %v", c, len(got), err)
		}
	}
	if _, err := Compress(io.Discard, "bzip2"); err == nil {
		t.Error("unknown compression accepted")
	}
	if _, _, err := Decompress(strings.NewReader("PK\x03\x04")); err == nil {
		t.Error("zip accepted")
	}
}

func TestDiffAndFormat(t *testing.T) {
	a := []*Entry{{Name: "a", Mode: TypeRegular | 0o644, Data: []byte("x")}, {Name: "b", Mode: TypeSymlink | 0o777, Link: "a"}, {Name: "c", Mode: TypeDir | 0o755}}
	b := []*Entry{{Name: "a", Mode: TypeRegular | 0o755, Data: []byte("y")}, {Name: "b", Mode: TypeSymlink | 0o777, Link: "c"}, {Name: "d", Mode: TypeDir | 0o755}}
	got := strings.Join(Diff(a, b), "\n")
	want := "~ /a: mode -rw-r--r-- -> -rwxr-xr-x, contents differ\n~ /b: target a -> c\n- /c\n+ /d"
	if got != want {
		t.Errorf("Diff:\n%s\nwant:\n%s", got, want)
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("Diff(a, a) = %v", d)
	}
	for _, tc := range []struct {
		e    *Entry
		want string
	}{
		{&Entry{Name: "bin/sh", Mode: TypeSymlink | 0o777, Link: "../bbin/gosh"}, "lrwxrwxrwx         12 /bin/sh -> ../bbin/gosh"},
		{&Entry{Name: "tmp", Mode: TypeDir | 0o1777}, "drwxrwxrwt          0 /tmp"},
		{&Entry{Name: "dev/console", Mode: TypeChar | 0o600, Major: 5, Minor: 1}, "crw-------      5,   1 /dev/console"},
		{&Entry{Name: "su", Mode: TypeRegular | 0o4755, Data: []byte("abc")}, "-rwsr-xr-x          3 /su"},
	} {
		if got := FormatEntry(tc.e, true); got != tc.want {
			t.Errorf("FormatEntry = %q, want %q", got, tc.want)
		}
	}
}

func FuzzReadImage(f *testing.F) {
	a := NewArchive()
	a.File("x/y", 0o644, []byte("data"), "")
	a.Symlink("l", "x", "")
	var b bytes.Buffer
	a.WriteCPIO(&b, WriteOptions{})
	f.Add(b.Bytes())
	var z bytes.Buffer
	w, _ := Compress(&z, "gzip")
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
		a := NewArchive()
		for _, n := range names {
			if err := a.File(n, 0o644, []byte(n), ""); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		w, err := Compress(&b, comp)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.WriteCPIO(w, WriteOptions{}); err != nil {
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
				if e.Mode&TypeMask == TypeRegular {
					names = append(names, e.Name)
				}
			}
			if comp != tc.comp || strings.Join(names, " ") != tc.names {
				t.Errorf("got %s %q, want %s %q", comp, names, tc.comp, tc.names)
			}
		})
	}
}
