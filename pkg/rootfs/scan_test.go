package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSys is a sysfs and a /dev for a Scanner: each device's node is an
// image file.
type fakeSys struct {
	t   *testing.T
	s   *Scanner
	min int
}

func newFakeSys(t *testing.T) *fakeSys {
	root := t.TempDir()
	s := &Scanner{Sys: filepath.Join(root, "sys"), Dev: filepath.Join(root, "dev")}
	for _, d := range []string{s.Dev, filepath.Join(s.Sys, "class", "block")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return &fakeSys{t: t, s: s}
}

// add makes device name (a partition of parent when parent != "") whose
// node is a copy of img, as the kernel shows it in sysfs.
func (f *fakeSys) add(name, parent string, part int, img string) {
	t := f.t
	dir := filepath.Join(f.s.Sys, "devices", "virtio0", "block", name)
	if parent != "" {
		dir = filepath.Join(f.s.Sys, "devices", "virtio0", "block", parent, name)
	}
	var size int64
	if img != "" {
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		size = int64(len(b))
		if err := os.WriteFile(filepath.Join(f.s.Dev, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	f.min++
	files := map[string]string{"size": fmt.Sprint(size / 512), "dev": fmt.Sprintf("254:%d", f.min)}
	if parent != "" {
		files["partition"] = fmt.Sprint(part)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range files {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(dir, filepath.Join(f.s.Sys, "class", "block", name)); err != nil {
		t.Fatal(err)
	}
}

// images made once for the scanner tests: a GPT disk and two file systems.
func testImages(t *testing.T) (disk, ext4, vfat string) {
	dir := t.TempDir()
	disk, ext4, vfat = filepath.Join(dir, "disk"), filepath.Join(dir, "ext4"), filepath.Join(dir, "vfat")
	sparse(t, disk, 4<<20)
	sh(t, need(t, "sgdisk", "gdisk"), "-o", "-n", "1:2048:+1M", "-c", "1:efi", "-u", "1:11111111-2222-3333-4444-555555555555",
		"-n", "2:0:+1M", "-c", "2:root", "-u", "2:66666666-7777-8888-9999-aaaaaaaaaaaa", disk)
	sparse(t, ext4, 2<<20)
	sh(t, need(t, "mkfs.ext4", "e2fsprogs"), "-q", "-F", "-U", "d0d0d0d0-1111-2222-3333-444444444444", "-L", "sysroot", ext4)
	sparse(t, vfat, 2<<20)
	sh(t, need(t, "mkfs.vfat", "dosfstools"), "-F", "12", "-i", "cafe0001", "-n", "BOOT", vfat)
	return
}

func TestScanAndMatch(t *testing.T) {
	disk, ext4, vfat := testImages(t)
	f := newFakeSys(t)
	f.add("vda", "", 0, disk)
	f.add("vda1", "vda", 1, vfat)
	f.add("vda2", "vda", 2, ext4)
	f.add("sr0", "", 0, "") // an empty drive
	devs, err := f.s.All()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Device{}
	for _, d := range devs {
		byName[d.Name] = d
	}
	for _, tc := range []struct {
		spec, want string // want "" = nothing matches
	}{
		{"/dev/vda2", "vda2"},
		{"/dev/vdb", ""},
		{"UUID=d0d0d0d0-1111-2222-3333-444444444444", "vda2"},
		{"UUID=D0D0D0D0-1111-2222-3333-444444444444", "vda2"},
		{"UUID=CAFE-0001", "vda1"},
		{"UUID=cafe-0001", "vda1"},
		{"LABEL=sysroot", "vda2"},
		{"LABEL=SYSROOT", ""},
		{"LABEL=BOOT", "vda1"},
		{"PARTUUID=66666666-7777-8888-9999-AAAAAAAAAAAA", "vda2"},
		{"PARTUUID=11111111-2222-3333-4444-555555555555", "vda1"},
		{"PARTLABEL=root", "vda2"},
		{"PARTLABEL=efi", "vda1"},
		{"PARTLABEL=swap", ""},
		{"UUID=", ""},
	} {
		var got []string
		for _, d := range devs {
			if Matches(tc.spec, d) {
				got = append(got, d.Name)
			}
		}
		want := []string{}
		if tc.want != "" {
			want = []string{tc.want}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s matches %v, want %v", tc.spec, got, want)
		}
	}
	if d := byName["vda2"]; d.Size != 2<<20 || d.Parent != "vda" || d.Partition != 2 || d.FS.Type != "ext4" {
		t.Errorf("vda2 = %+v", d)
	}
	var b bytes.Buffer
	WriteTable(&b, devs)
	for _, w := range []string{"NAME", "vda2  2M", "ext4", "d0d0d0d0-1111-2222-3333-444444444444", "sysroot", "PARTLABEL", "CAFE-0001", "BOOT", "sr0   0B"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, b.String())
		}
	}
}

// chanEvents delivers what the test sends; a closed channel is a timeout.
type chanEvents struct{ c chan string }

func (e chanEvents) Next(timeout time.Duration) (string, bool, bool, error) {
	var after <-chan time.Time
	if timeout >= 0 {
		after = time.After(timeout)
	}
	select {
	case n, ok := <-e.c:
		if n == "!rescan" {
			return "", true, true, nil
		}
		if n == "!error" {
			return "", false, false, errors.New("socket gone")
		}
		return n, ok, false, nil
	case <-after:
		return "", false, false, nil
	}
}

func (e chanEvents) Close() error { return nil }

func TestWait(t *testing.T) {
	disk, ext4, vfat := testImages(t)
	for _, tc := range []struct {
		name    string
		before  bool     // the devices exist before Wait
		events  []string // sent after the devices are added
		spec    string
		timeout time.Duration
		want    string // device found; "" = ErrNotFound
		err     bool   // another error
	}{
		{"AlreadyThere", true, nil, "LABEL=sysroot", time.Hour, "vda2", false},
		{"AppearsLater", false, []string{"vda", "vda1", "vda2"}, "PARTUUID=66666666-7777-8888-9999-aaaaaaaaaaaa", -1, "vda2", false},
		{"EventsLostRescan", false, []string{"!rescan"}, "UUID=d0d0d0d0-1111-2222-3333-444444444444", time.Hour, "vda2", false},
		{"OtherDevicesThenTimeout", false, []string{"vda", "vda1", "vda2"}, "LABEL=nowhere", 50 * time.Millisecond, "", false},
		{"SourceFails", false, []string{"!error"}, "LABEL=sysroot", time.Hour, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSys(t)
			add := func() {
				f.add("vda", "", 0, disk)
				f.add("vda1", "vda", 1, vfat)
				f.add("vda2", "vda", 2, ext4)
			}
			ev := chanEvents{c: make(chan string, 10)}
			if tc.before {
				add()
			}
			type result struct {
				d    Device
				devs []Device
				err  error
			}
			done := make(chan result, 1)
			go func() {
				d, devs, err := f.s.Wait(ev, tc.spec, tc.timeout)
				done <- result{d, devs, err}
			}()
			if !tc.before {
				add()
				for _, e := range tc.events {
					ev.c <- e
				}
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				t.Fatal("Wait did not return within a minute")
			}
			switch {
			case tc.err:
				if r.err == nil || errors.Is(r.err, ErrNotFound) {
					t.Errorf("Wait: %v, want the source's error", r.err)
				}
			case tc.want == "":
				if !errors.Is(r.err, ErrNotFound) || len(r.devs) != 3 {
					t.Errorf("Wait: %v with %d devices, want ErrNotFound and the 3 devices", r.err, len(r.devs))
				}
			case r.err != nil || r.d.Name != tc.want:
				t.Errorf("Wait = %s, %v; want %s", r.d.Name, r.err, tc.want)
			}
		})
	}
}
