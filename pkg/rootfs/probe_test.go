package rootfs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need returns the path of a tool or fails naming its Debian package.
func need(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: apt-get install %s (scripts/deps.sh lists it)", tool, pkg)
	}
	return p
}

// sh runs a command, failing the test with its output.
func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sparse makes an empty file of size bytes.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// blkid asks util-linux what is on img, for comparison.
func blkid(t *testing.T, img string) FS {
	t.Helper()
	out, _ := exec.Command(need(t, "blkid", "util-linux"), "-p", "-o", "export", img).Output()
	var fs FS
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "TYPE":
			fs.Type = v
		case "UUID":
			fs.UUID = v
		case "LABEL":
			fs.Label = v
		}
	}
	return fs
}

func TestProbe(t *testing.T) {
	const u = "3f1c2a44-7b1e-4c8e-9a55-0d2f6b7e8c91"
	for _, tc := range []struct {
		name string
		size int64
		mkfs func(t *testing.T, img string)
		want FS
	}{
		{"ext4", 8 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.ext4", "e2fsprogs"), "-q", "-F", "-U", u, "-L", "rootfs", img)
		}, FS{"ext4", u, "rootfs"}},
		{"ext3", 8 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.ext3", "e2fsprogs"), "-q", "-F", "-U", u, "-L", "old", img)
		}, FS{"ext3", u, "old"}},
		{"ext2", 8 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.ext2", "e2fsprogs"), "-q", "-F", "-U", u, img)
		}, FS{"ext2", u, ""}},
		{"xfs", 300 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.xfs", "xfsprogs"), "-q", "-f", "-m", "uuid="+u, "-L", "xroot", img)
		}, FS{"xfs", u, "xroot"}},
		{"btrfs", 128 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.btrfs", "btrfs-progs"), "-q", "-f", "-U", u, "-L", "broot", img)
		}, FS{"btrfs", u, "broot"}},
		{"vfat16", 16 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.vfat", "dosfstools"), "-F", "16", "-i", "1234abcd", "-n", "EFI", img)
		}, FS{"vfat", "1234-ABCD", "EFI"}},
		{"vfat32", 64 << 20, func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.vfat", "dosfstools"), "-F", "32", "-i", "0badf00d", img)
		}, FS{"vfat", "0BAD-F00D", ""}},
		{"nothing", 1 << 20, func(t *testing.T, img string) {}, FS{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "img")
			sparse(t, img, tc.size)
			tc.mkfs(t, img)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Probe(f)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Probe = %+v, want %+v", got, tc.want)
			}
			if b := blkid(t, img); b != got {
				t.Errorf("Probe = %+v, blkid says %+v", got, b)
			}
		})
	}
}

func TestProbeShort(t *testing.T) {
	// A device smaller than any superblock's place is nothing, not an error.
	for _, n := range []int{0, 100, 1100, 0x10050} {
		if fs, err := Probe(strings.NewReader(strings.Repeat("\x00", n))); err != nil || fs != (FS{}) {
			t.Errorf("Probe(%d zero bytes) = %+v, %v", n, fs, err)
		}
	}
}

func TestPartitions(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, img string)
		want []Part
	}{
		{"gpt", func(t *testing.T, img string) {
			sh(t, need(t, "sgdisk", "gdisk"), "-o",
				"-n", "1:2048:+1M", "-c", "1:esp", "-u", "1:0fc63daf-8483-4772-8e79-3d69d8477de4",
				"-n", "3:0:+2M", "-c", "3:système", "-u", "3:A2A0D0EB-E5B9-3344-87C0-68B6B72699C7", img)
		}, []Part{{1, "0fc63daf-8483-4772-8e79-3d69d8477de4", "esp"}, {3, "a2a0d0eb-e5b9-3344-87c0-68b6b72699c7", "système"}}},
		{"mbr", func(t *testing.T, img string) {
			c := exec.Command(need(t, "sfdisk", "fdisk"), "-q", img)
			c.Stdin = strings.NewReader("label: dos\nlabel-id: 0x1234abcd\n,1M\n,1M\n")
			if out, err := c.CombinedOutput(); err != nil {
				t.Fatalf("sfdisk: %v\n%s", err, out)
			}
		}, []Part{{1, "1234abcd-01", ""}, {2, "1234abcd-02", ""}}},
		{"vfat, no table", func(t *testing.T, img string) {
			sh(t, need(t, "mkfs.vfat", "dosfstools"), "-F", "12", img)
		}, nil},
		{"empty", func(t *testing.T, img string) {}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk")
			sparse(t, img, 8<<20)
			tc.make(t, img)
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := Partitions(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Partitions = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("partition %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
