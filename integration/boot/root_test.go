package boot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The real root's disk: a GPT disk whose partition 1 holds an ext4 file
// system, built without privileges (mkfs.ext4 -d, sgdisk, dd).
const (
	realRootUUID     = "5a1e7c3d-2b4f-4e6a-9c8d-0f1e2d3c4b5a"
	realRootLabel    = "svroot"
	realRootPartUUID = "c0ffee00-1234-4abc-8def-0123456789ab"
	realRootPartName = "svinit-root"
	// realRootMarker is what the real root's init prints first.
	realRootMarker = "realroot: init is pid "
)

// realRootInit is the real root's /sbin/init: busybox's shell (not
// svinit), saying who it is, then powering off through sysrq. The
// ignored signals are grep's: the shell ignores SIGQUIT itself (as
// every ash and bash does) but gives its children the dispositions it
// was started with, which are what svinit-final left.
const realRootInit = `#!/bin/sh
echo "realroot: init is pid $$"
echo "realroot: $(busybox grep SigIgn /proc/self/status)"
echo "realroot: / is $(busybox awk '$2 == "/" {print $1, $3}' /proc/mounts)"
echo "realroot: /run holds" $(busybox ls /run)
echo "realroot: powering off"
echo o > /proc/sysrq-trigger
busybox sleep 60
`

// makeRootDisk builds the disk image and returns its path.
func makeRootDisk(t *testing.T) string {
	t.Helper()
	for tool, pkg := range map[string]string{"mkfs.ext4": "e2fsprogs", "sgdisk": "gdisk", "dd": "coreutils"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: apt-get install %s", tool, pkg)
		}
	}
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("/bin/busybox (a static busybox for the real root): %v; apt-get install busybox-static", err)
	}
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "run", "tmp"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := []struct {
		path string
		data []byte
	}{{"bin/busybox", bb}, {"sbin/init", []byte(realRootInit)}}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(tree, f.path), f.data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("busybox", filepath.Join(tree, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	part, disk := filepath.Join(dir, "part.img"), filepath.Join(dir, "disk.img")
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("mkfs.ext4", "-q", "-F", "-d", tree, "-U", realRootUUID, "-L", realRootLabel, part, "16M")
	run("truncate", "-s", "20M", disk)
	run("sgdisk", "-o", "-n", "1:2048:+16M", "-c", "1:"+realRootPartName, "-u", "1:"+realRootPartUUID, disk)
	run("dd", "if="+part, "of="+disk, "bs=1M", "seek=1", "conv=notrunc", "status=none")
	return disk
}

// TestRealRoot boots the default image with root= naming the disk by
// UUID=, LABEL= and PARTUUID=: svinit hands over (mode 1) and the real
// root's init runs as process 1. Then a root= that names nothing: the
// device table and the console's shell after rootdelay=.
func TestRealRoot(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, defaultImage)
	disk := makeRootDisk(t)
	drive := []string{"-drive", "file=" + disk + ",format=raw,if=virtio,snapshot=on"}

	// The figures, for make bench (out/boot-realroot.txt).
	var figures []string
	defer func() {
		if len(figures) > 0 {
			writeResult(t, e, "boot-realroot.txt", fmt.Sprintf("real root, hand over (mode 1; accel %s; TestRealRoot):\n%s", e.accel, strings.Join(figures, "")))
		}
	}()
	for _, tc := range []struct{ name, root string }{
		{"UUID", "root=UUID=" + realRootUUID},
		{"LABEL", "root=LABEL=" + realRootLabel},
		{"PARTUUID", "root=PARTUUID=" + realRootPartUUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := boot(t, e, "realroot-"+tc.name, img, bootOpts{
				append: []string{tc.root}, qemuArg: drive, watch: []string{realRootMarker},
			})
			found := g.expectRe(bootTimeout, `svinit-switch-root: \S+ is (/dev/\S+) \(([^)]*)\) after (\S+)\r?\n`)
			if found[1] != "/dev/vda1" || !strings.Contains(found[2], "ext4 UUID="+realRootUUID) {
				t.Errorf("found %s (%s), want /dev/vda1, ext4 with UUID %s", found[1], found[2], realRootUUID)
			}
			mounted := g.expectRe(cmdTimeout, `mounted /dev/vda1 \(ext4\) read-only on /sysroot in (\S+)\r?\n`)
			ended := g.expectRe(cmdTimeout, `switch: the initramfs ended (\S+) after the request`)
			sw := g.expectRe(cmdTimeout, `switched to the real root in (\S+): moved ([^;]*); (\d+) initramfs files deleted, (\S+) freed \(in (\S+)\)\r?\n`)
			steps := g.expectRe(cmdTimeout, `switch steps: ([^\r\n]*)\r?\n`)
			hand := g.expectRe(cmdTimeout, `hand-over took (\S+) from the switch request; exec (\S+)\r?\n`)
			if hand[2] != "/sbin/init" {
				t.Errorf("exec %s, want /sbin/init", hand[2])
			}
			pid := g.expectRe(cmdTimeout, realRootMarker+`(\d+)\r?\n`)
			if pid[1] != "1" {
				t.Errorf("the real root's init runs as pid %s, want 1", pid[1])
			}
			ign := g.expectRe(cmdTimeout, `realroot: SigIgn:\s+([0-9a-f]+)\r?\n`)
			if strings.Trim(ign[1], "0") != "" {
				t.Errorf("init starts with signals ignored: SigIgn %s", ign[1])
			}
			rootLine := g.expectRe(cmdTimeout, `realroot: / is (\S+ \S+)\r?\n`)
			if rootLine[1] != "/dev/vda1 ext4" {
				t.Errorf("/ is %q, want /dev/vda1 ext4", rootLine[1])
			}
			run := g.expectRe(cmdTimeout, `realroot: /run holds ([^\r\n]*)\r?\n`)
			if !strings.Contains(run[1], "uncaught-logs") {
				t.Errorf("/run was not moved into the real root: it holds %q", run[1])
			}
			if !strings.Contains(sw[2], "/dev /proc /sys /run") {
				t.Errorf("moved %q, want /dev /proc /sys /run", sw[2])
			}
			g.expect(cmdTimeout, "realroot: powering off")
			g.wait(cmdTimeout)
			t0, ok1 := g.rec.at("Run /init")
			t1, ok2 := g.rec.at(realRootMarker)
			if ok1 && ok2 {
				figures = append(figures, fmt.Sprintf("  root=%s: Run /init -> real root's init %s; the switch itself %s (steps: %s); %s files deleted, %s freed in %s\n",
					tc.name, ms(t1.Sub(t0)), sw[1], steps[1], sw[3], sw[4], sw[5]))
				t.Logf("%s (TCG=%v): Run /init to the real root's init %s (host clock); root found %s after svinit-switch-root started, fs module and mount %s; services down %s after the request; switch_root %s (%s files deleted, %s freed in %s); request to exec %s",
					tc.name, e.accel == "tcg", ms(t1.Sub(t0)), found[3], mounted[1], ended[1], sw[1], sw[3], sw[4], sw[5], hand[1])
			}
		})
	}

	t.Run("WrongRoot", func(t *testing.T) {
		g := boot(t, e, "realroot-wrong", img, bootOpts{
			append: []string{"root=LABEL=nothing-here", "rootdelay=10"}, qemuArg: drive,
		})
		g.expect(bootTimeout, "svinit on ")
		g.prompt()
		head := "svinit-switch-root: root=LABEL=nothing-here not found after 10s"
		g.expect(cmdTimeout, head)
		table := g.expect(cmdTimeout, "put one of these in root=")
		for _, w := range []string{"NAME", "vda1", "ext4", realRootUUID, realRootLabel, realRootPartUUID, realRootPartName} {
			if !strings.Contains(table, w) {
				t.Errorf("the device table lacks %q:\n%s", w, table)
			}
		}
		g.expect(cmdTimeout, "the console's shell (early-getty) is the rescue shell")
		g.run("echo 1 > /proc/sys/kernel/printk")
		if out := g.run("cat /proc/mounts"); strings.Contains(out, "/sysroot") {
			t.Errorf("/sysroot mounted after a failed search:\n%s", out)
		}
		if out := g.run("cat /run/uncaught-logs/current"); !strings.Contains(out, "not found after 10s") {
			t.Errorf("the message is not in the catch-all log:\n%s", out)
		}
		shutdown(t, g, "poweroff", "")
	})
}
