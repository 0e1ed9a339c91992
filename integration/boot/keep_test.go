package boot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
)

// keepImage is the default image plus a static busybox (the keeper's
// shell) and the keeper service, started by stage 2 before the switch.
var keepImage = imageSpec{
	name: "keep",
	def:  "images/default.yaml",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		d.Files = append(d.Files, image.File{Src: image.Word{Value: "/bin/busybox"}, Dst: image.Word{Value: "/bin/busybox"}})
		d.Services = append(d.Services, image.Service{Name: "keeper", From: "integration/boot/testdata/keep/keeper"})
		return nil
	},
}

// makeKeepDisk builds a GPT disk whose ext4 partition is a real root
// for svinit.keep: svinit's commands and modules (taken from the image
// itself), a static busybox, and its own service definitions in
// /etc/svinit/rc.
func makeKeepDisk(t *testing.T, e *env, img string) string {
	t.Helper()
	for tool, pkg := range map[string]string{"mkfs.ext4": "e2fsprogs", "sgdisk": "gdisk", "cpio": "cpio"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: apt-get install %s", tool, pkg)
		}
	}
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	x := filepath.Join(dir, "initramfs")
	if err := os.Mkdir(x, 0o755); err != nil {
		t.Fatal(err)
	}
	run("sh", "-c", `cd "$1" && gzip -dc "$2" | cpio -idm --quiet`, "sh", x, img)
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var/log", "etc/svinit"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// svinit's commands as the image has them (bin, sbin, bbin), its
	// modules (the device manager restarts from the real root).
	for _, d := range []string{"bin", "sbin", "bbin", "lib"} {
		if _, err := os.Lstat(filepath.Join(x, d)); err == nil {
			run("cp", "-a", filepath.Join(x, d), tree)
		}
	}
	run("cp", "-a", filepath.Join(e.root, "integration/boot/testdata/keep/rc"), filepath.Join(tree, "etc/svinit/rc"))
	part, disk := filepath.Join(dir, "part.img"), filepath.Join(dir, "disk.img")
	run("mkfs.ext4", "-q", "-F", "-d", tree, "-U", realRootUUID, "-L", realRootLabel, part, "96M")
	run("truncate", "-s", "100M", disk)
	run("sgdisk", "-o", "-n", "1:2048:+96M", "-c", "1:"+realRootPartName, "-u", "1:"+realRootPartUUID, disk)
	run("dd", "if="+part, "of="+disk, "bs=1M", "seek=1", "conv=notrunc", "status=none")
	return disk
}

// TestKeepRoot boots with svinit.keep: svinit stays process 1 across
// the switch to the real root. The keeper, started in the initramfs,
// keeps its pid; the real root's own service comes up; the catch-all
// log on the real root's disk holds everything since the first line,
// in order, not one of the keeper's numbered lines missing; poweroff
// is clean.
func TestKeepRoot(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, keepImage)
	disk := makeKeepDisk(t, e, img)
	g := boot(t, e, "keeproot", img, bootOpts{
		append:  []string{"root=LABEL=" + realRootLabel, "rw", "svinit.keep"},
		qemuArg: []string{"-drive", "file=" + disk + ",format=raw,if=virtio,snapshot=on"},
		watch:   []string{"realsvc: up"},
	})
	kept := g.expectRe(bootTimeout, `keeper: started, pid (\d+)\r?\n`)
	found := g.expectRe(bootTimeout, `svinit-switch-root: \S+ is (/dev/\S+) \(([^)]*)\) after (\S+)\r?\n`)
	if found[1] != "/dev/vda1" {
		t.Errorf("found %s, want /dev/vda1", found[1])
	}
	mounted := g.expectRe(cmdTimeout, `mounted /dev/vda1 \(ext4\) read-write on /sysroot in (\S+)\r?\n`)
	sw := g.expectRe(cmdTimeout, `svinit.keep: the supervision tree runs on the real root: switched in (\S+) \(checks (\S+), bound ([^)]*) in (\S+), the scanner's change of root (\S+), chroot (\S+)\)\r?\n`)
	logm := g.expectRe(cmdTimeout, `the catch-all log goes on in (\S+) \((\d+) files copied from \S+; logger stopped, log copied, logger up again in (\S+)\)\r?\n`)
	if logm[1] != "/var/log/svinit/catch-all" {
		t.Errorf("the catch-all log goes to %s, want /var/log/svinit/catch-all", logm[1])
	}
	rex := g.expectRe(cmdTimeout, `the scanner runs the real root's /bin/svscan, re-exec'd with its state in (\S+)\r?\n`)
	del := g.expectRe(cmdTimeout, `initramfs deleted: (\d+) files, (\S+) of file data, (\S+) more free memory, in (\S+)\r?\n`)
	rc := g.expectRe(cmdTimeout, `the real root's services \(\S+, bundle \S+\) up in (\S+)\r?\n`)
	g.expect(cmdTimeout, "svinit.keep done in")
	if !strings.Contains(sw[3], "/dev /proc /sys /run") {
		t.Errorf("bound %q, want /dev /proc /sys /run", sw[3])
	}

	// The console's getty was restarted from the real root.
	g.prompt()
	g.run("echo 1 > /proc/sys/kernel/printk")
	if out := g.run("svstat /run/service/keeper"); !strings.Contains(out, "(pid "+kept[1]+")") {
		t.Errorf("the keeper after the switch: %q, want pid %s (started in the initramfs)", out, kept[1])
	}
	if out := g.run("busybox awk '$2 == \"/\" {print $1, $3}' /proc/mounts"); strings.TrimSpace(out) != "/dev/vda1 ext4" {
		t.Errorf("/ is %q, want /dev/vda1 ext4", out)
	}
	if out := g.run("busybox stat -L -c %d:%i /proc/1/root/ /"); len(strings.Fields(out)) != 2 || strings.Fields(out)[0] != strings.Fields(out)[1] {
		t.Errorf("process 1's root and the shell's differ: %q", out)
	}
	// Who still runs a program of the deleted initramfs (its pages are
	// freed when they exit): said, not checked.
	left, _ := g.runStatus(cmdTimeout, "busybox ls -l /proc/[0-9]*/exe 2>/dev/null | busybox grep deleted")
	t.Logf("processes running a deleted program of the initramfs:\n%s", left)
	// The real root's service: its console line (timed) and its pid.
	if _, ok := g.rec.at("realsvc: up"); !ok {
		t.Errorf("the real root's service did not say it was up on the console")
	}
	realPid := regexp.MustCompile(`up \(pid (\d+)\)`).FindStringSubmatch(g.run("svstat /run/service/realsvc"))
	if realPid == nil {
		t.Errorf("the real root's service is not up")
	}

	// The catch-all log on the disk: first the initramfs's (still in
	// /run/uncaught-logs, where the logger left it), byte for byte,
	// then what came after, the real root's lines among them.
	cat := func(dir string) string {
		return "cat $(busybox ls " + dir + " | busybox grep -E '^@' | busybox sed 's|^|" + dir + "/|') " + dir + "/current"
	}
	g.run(cat("/run/uncaught-logs") + " > /tmp/before")
	g.run(cat("/var/log/svinit/catch-all") + " > /tmp/disk")
	sizes := strings.Fields(g.run("busybox stat -c %s /tmp/before /tmp/disk"))
	if len(sizes) != 2 {
		t.Fatalf("sizes: %q", sizes)
	}
	if out, rc := g.runStatus(cmdTimeout, "busybox cmp -n "+sizes[0]+" /tmp/before /tmp/disk"); rc != 0 {
		t.Errorf("the disk's catch-all log does not start with the initramfs's (%s bytes): %s", sizes[0], out)
	}
	first := g.run("busybox head -n 2 /tmp/disk")
	t.Logf("the catch-all log's first lines: %q", first)
	if first == "" {
		t.Errorf("the disk's catch-all log is empty")
	}
	gaps := g.run(`busybox awk '/keeper: tick / {n = $NF; if (p != "" && n != p + 1) print "gap after", p, "next", n; if (p == "") print "first", n; p = n} END {print "last", p}' /tmp/disk`)
	m := regexp.MustCompile(`first (\d+)\n(?s:(.*))last (\d+)`).FindStringSubmatch(gaps)
	if m == nil || m[1] != "1" || strings.TrimSpace(m[2]) != "" {
		t.Errorf("the keeper's lines in the disk's catch-all log are not 1, 2, 3... without a gap:\n%s", gaps)
	}
	if realPid != nil {
		if out, rc := g.runStatus(cmdTimeout, "busybox grep -c 'realsvc: up, pid "+realPid[1]+"$' /tmp/disk"); rc != 0 {
			t.Errorf("the real root's service's line is not in the disk's catch-all log: %s", out)
		}
	}
	order := g.run(`busybox awk '/svinit-switch-root: the catch-all log goes on/ {l = NR} /realsvc: up/ {r = NR} END {print NR, l, r}' /tmp/disk`)
	f := strings.Fields(order)
	if len(f) != 3 {
		t.Errorf("the disk's catch-all log lacks the switch's line or the real root's service's: %q", order)
	} else {
		total, _ := strconv.Atoi(f[0])
		beforeLines, _ := strconv.Atoi(strings.TrimSpace(g.run("busybox wc -l < /tmp/before")))
		if l, _ := strconv.Atoi(f[1]); l <= beforeLines || l > total {
			t.Errorf("the switch's line is line %s of %d, want after the initramfs's %d", f[1], total, beforeLines)
		}
		if r, _ := strconv.Atoi(f[2]); r <= beforeLines || r > total {
			t.Errorf("the real root's service's line is line %s of %d, want after the initramfs's %d", f[2], total, beforeLines)
		}
	}
	ticks := 0
	if m != nil {
		ticks, _ = strconv.Atoi(m[3])
	}

	// The way down from the real root: svinit's own, every file
	// system unmounted or, the root, remounted read-only.
	g.send("poweroff\n")
	fsl := g.expectRe(cmdTimeout, `svinit-final: file systems: (\d+) unmounted, (\d+) remounted read-only, (\d+) left as they were`)
	if fsl[3] != "0" || fsl[2] == "0" {
		t.Errorf("poweroff: %s unmounted, %s remounted read-only, %s left; want none left and / read-only", fsl[1], fsl[2], fsl[3])
	}
	g.expectRe(cmdTimeout, fmt.Sprintf(finalRe, "poweroff"))
	g.wait(cmdTimeout)
	t0, ok1 := g.rec.at("Run /init")
	t1, ok2 := g.rec.at("realsvc: up")
	if ok1 && ok2 {
		writeResult(t, e, "boot-keeproot.txt", fmt.Sprintf("real root, keep supervising (mode 2, svinit.keep; accel %s; TestKeepRoot):\n"+
			"  Run /init -> real root's first service up %s; the switch itself %s (binds %s, scanner's change of root %s, chroot %s); catch-all log onto the disk %s; scanner re-exec %s; initramfs deleted: %s of file data, %s more free memory, in %s; keeper's %d lines, none missing, same pid\n",
			e.accel, ms(t1.Sub(t0)), sw[1], sw[4], sw[5], sw[6], logm[3], rex[1], del[2], del[3], del[4], ticks))
		t.Logf("keep (TCG=%v): Run /init to the real root's first service up %s (host clock); root found %s after svinit-switch-root started, fs module and mount %s; switch %s (checks %s, mounts %s, scanner's change of root %s, chroot %s); catch-all log onto the disk %s (%s files); scanner re-exec %s; initramfs deleted: %s files, %s of data, %s more free memory in %s; real root's services up in %s; keeper's lines 1 to %d, none missing",
			e.accel == "tcg", ms(t1.Sub(t0)), found[3], mounted[1], sw[1], sw[2], sw[4], sw[5], sw[6], logm[3], logm[2], rex[1], del[1], del[2], del[3], del[4], rc[1], ticks)
	}
}
