package cpio

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

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

func TestMkimageInterrupt(t *testing.T) {
	// The real command, interrupted with SIGINT during a (fake, slow) build,
	// is covered in cmds/mkimage; here: a failing writer leaves nothing.
	a := NewArchive()
	a.File("x", 0o644, make([]byte, 1<<20), "")
	err := a.WriteCPIO(failWriter{}, WriteOptions{})
	if err == nil {
		t.Fatal("no error from a failing writer")
	}
}

type failWriter struct{}

func (failWriter) Write(b []byte) (int, error) { return 0, errors.New("disk full") }
