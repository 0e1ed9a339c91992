package bootfs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMountsUnescape(t *testing.T) {
	ms, err := ParseMounts(strings.NewReader("a /mnt/with\\040space tmpfs rw 0 0\nshort line\nb /x\\134y ext4 ro 0 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := MountTable{{"a", "/mnt/with space", "tmpfs"}, {"b", `/x\y`, "ext4"}}
	if !reflect.DeepEqual(ms, want) {
		t.Fatalf("got %q, want %q", ms, want)
	}
}

func TestReadMountsHas(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mounts")
	if _, err := ReadMounts(p); err == nil {
		t.Fatalf("ReadMounts of a missing file: no error")
	}
	os.WriteFile(p, []byte("rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\nnone /run ramfs rw 0 0\n"), 0o644)
	ms, err := ReadMounts(p)
	if err != nil || len(ms) != 3 {
		t.Fatalf("ReadMounts: %q, %v", ms, err)
	}
	for _, tc := range []struct {
		target, fstype string
		want           bool
	}{
		{"/proc", "proc", true},
		{"/", "rootfs", true},
		{"/run", "tmpfs", false}, // mounted, but another type
		{"/sys", "sysfs", false},
	} {
		if got := ms.Has(tc.target, tc.fstype); got != tc.want {
			t.Errorf("Has(%s, %s) = %v, want %v", tc.target, tc.fstype, got, tc.want)
		}
	}
}

func FuzzParseMounts(f *testing.F) {
	for _, s := range []string{"", "proc /proc proc rw 0 0\n", `a /b\040c tmpfs rw 0 0`, `x \12 y`, `\777\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMounts(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Target == "" && !strings.Contains(s, "\\") {
				t.Fatalf("empty target from %q", s)
			}
		}
		Unescape(s)
	})
}
