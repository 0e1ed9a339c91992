package bootmenu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/rootfs"
)

// fakeDisks is a sysfs and a /dev under a temporary directory, each
// node an ext4 image, and a Mount that fills the mount directory with
// a GRUB config instead of mounting.
type fakeDisks struct {
	t        *testing.T
	sys, dev string
	ext4     []byte
	minor    int
	mounted  []string
	failOn   string
}

func newFakeDisks(t *testing.T) *fakeDisks {
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		t.Fatalf("mkfs.ext4 not found: apt-get install e2fsprogs")
	}
	root := t.TempDir()
	img := filepath.Join(root, "ext4.img")
	if out, err := exec.Command(mkfs, "-q", "-F", "-L", "boot", img, "2M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDisks{t: t, sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev"), ext4: b}
	for _, d := range []string{f.dev, filepath.Join(f.sys, "class", "block")} {
		os.MkdirAll(d, 0o755)
	}
	return f
}

// add makes partition 1 of disk (when fs, an ext4 file system on it).
func (f *fakeDisks) add(disk string, fs bool) {
	for _, d := range []struct {
		name, parent string
		data         []byte
	}{{disk, "", make([]byte, 4096)}, {disk + "1", disk, nil}} {
		data := d.data
		if d.parent != "" {
			data = make([]byte, len(f.ext4))
			if fs {
				data = f.ext4
			}
		}
		dir := filepath.Join(f.sys, "devices", "virtio", "block", disk)
		if d.parent != "" {
			dir = filepath.Join(dir, d.name)
		}
		os.MkdirAll(dir, 0o755)
		f.minor++
		os.WriteFile(filepath.Join(dir, "size"), []byte(fmt.Sprintln(len(data)/512)), 0o644)
		os.WriteFile(filepath.Join(dir, "dev"), []byte(fmt.Sprintf("254:%d\n", f.minor)), 0o644)
		if d.parent != "" {
			os.WriteFile(filepath.Join(dir, "partition"), []byte("1\n"), 0o644)
		}
		os.WriteFile(filepath.Join(f.dev, d.name), data, 0o600)
		os.Symlink(dir, filepath.Join(f.sys, "class", "block", d.name))
	}
}

func (f *fakeDisks) disks(log *bytes.Buffer) *Disks {
	return &Disks{
		Scanner:  &rootfs.Scanner{Sys: f.sys, Dev: f.dev},
		MountDir: filepath.Join(f.t.TempDir(), "run", "svboot"),
		Log:      log,
		Mount: func(dev, dir, fstype string) error {
			if filepath.Base(dev) == f.failOn {
				return errors.New("no such device")
			}
			f.mounted = append(f.mounted, filepath.Base(dev)+":"+fstype)
			name := filepath.Base(dev)
			os.MkdirAll(filepath.Join(dir, "boot", "grub"), 0o755)
			os.WriteFile(filepath.Join(dir, "vmlinuz"), []byte("kernel"), 0o644)
			return os.WriteFile(filepath.Join(dir, "boot", "grub", "grub.cfg"),
				[]byte("menuentry 'os on "+name+"' {\n  linux /vmlinuz root=/dev/"+name+"\n}\n"), 0o644)
		},
		Unmount: func(dir string) error { f.mounted = append(f.mounted, "umount "+filepath.Base(dir)); return nil },
	}
}

func TestDisksFind(t *testing.T) {
	f := newFakeDisks(t)
	f.add("vda", true)
	f.add("vdb", false) // no file system: not mounted
	f.add("vdc", true)
	f.failOn = "vdc1"
	var log bytes.Buffer
	d := f.disks(&log)
	entries, err := d.Find(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Title != "os on vda1" || entries[0].Device != "vda1" || entries[0].Format != FormatGRUB {
		t.Fatalf("entries %+v", entries)
	}
	for _, w := range []string{"svboot: vda1 (ext4 boot): 1 GRUB entry", "svboot: vdc1 (ext4): mount " + filepath.Join(f.dev, "vdc1") + " read-only on "} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
	// A second look mounts nothing again and says nothing again.
	log.Reset()
	if again, _ := d.Find(context.Background()); len(again) != 1 || log.Len() != 0 {
		t.Errorf("second Find: %d entries, log %q", len(again), log.String())
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.mounted, " "); got != "vda1:ext4 umount vda1" {
		t.Errorf("mounts %q", got)
	}
}

// events delivers the names sent; a closed channel times out.
type events chan string

func (e events) Next(timeout time.Duration) (string, bool, bool, error) {
	select {
	case n, ok := <-e:
		return n, ok, false, nil
	case <-time.After(timeout):
		return "", false, false, nil
	}
}

func (e events) Close() error { return nil }

func TestDisksFindWait(t *testing.T) {
	f := newFakeDisks(t)
	f.add("vda", false)
	var log bytes.Buffer
	d := f.disks(&log)
	ev := make(events, 4)
	// A disk without entries appears first, then one with.
	f.add("vdb", false)
	ev <- "vdb"
	go func() {
		f.add("nvme0n", true)
		ev <- "nvme0n1"
	}()
	entries, err := d.FindWait(context.Background(), ev, time.Minute)
	if err != nil || len(entries) != 1 || entries[0].Device != "nvme0n1" {
		t.Fatalf("FindWait: %+v, %v\n%s", entries, err, log.String())
	}
	if !strings.Contains(log.String(), "no boot entries yet; waiting up to 1m0s") {
		t.Errorf("log:\n%s", log.String())
	}

	// Nothing ever comes: FindWait returns no entries at the deadline.
	close(ev)
	d2 := f.disks(&log)
	f2 := newFakeDisks(t)
	d2.Scanner = &rootfs.Scanner{Sys: f2.sys, Dev: f2.dev}
	if entries, err := d2.FindWait(context.Background(), ev, time.Minute); err != nil || len(entries) != 0 {
		t.Fatalf("nothing to find: %+v, %v", entries, err)
	}
}
