package boot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// kexecImage is the first system of the boot menu tests: svboot as an
// rc longrun, the disk's modules, and chatty (a service with a logger
// that says goodbye at shutdown).
var kexecImage = imageSpec{name: "kexec-menu", def: "integration/boot/testdata/kexec.yaml"}

// The boot disk's entries: a Boot Loader Specification entry on a FAT
// partition (first in the menu: u-root ranks BLS entries above GRUB's)
// and a GRUB menu entry on an ext4 one. Each boots the minimal image
// with its own host name, the marker of the second system.
const (
	blsTitle  = "svinit BLS"
	blsHost   = "blsboot"
	grubTitle = "svinit GRUB"
	grubHost  = "grubboot"
)

// entryCmdline is the kernel command line of the entry booting host.
func entryCmdline(host string) string { return defaultAppnd + " svinit.hostname=" + host }

// makeBootDisk builds, without privileges, a GPT disk with two
// partitions: 1, FAT (mkfs.vfat, mcopy): loader/entries/svinit.conf,
// the kernel and initrd; 2, ext4 (mkfs.ext4 -d): boot/grub/grub.cfg, the
// kernel and initrd. The partition table is written by sfdisk on the
// file.
func makeBootDisk(t *testing.T, e *env, initrd string) string {
	t.Helper()
	for tool, pkg := range map[string]string{"mkfs.ext4": "e2fsprogs", "mkfs.vfat": "dosfstools", "mcopy": "mtools", "mmd": "mtools", "sfdisk": "fdisk", "dd": "coreutils"} {
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
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(src, dst string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(dst, string(b))
	}
	const partMiB = 16
	cmdline := entryCmdline

	// Partition 1: FAT, a BLS entry.
	esp := filepath.Join(dir, "esp")
	write(filepath.Join(esp, "loader", "entries", "svinit.conf"), fmt.Sprintf(
		"title %s\nlinux /vmlinuz\ninitrd /initrd.gz\noptions %s\n", blsTitle, cmdline(blsHost)))
	copyFile(e.kernel, filepath.Join(esp, "vmlinuz"))
	copyFile(initrd, filepath.Join(esp, "initrd.gz"))
	p1 := filepath.Join(dir, "p1.img")
	run("mkfs.vfat", "-n", "SVESP", "-C", p1, fmt.Sprint(partMiB*1024))
	run("mmd", "-i", p1, "::/loader", "::/loader/entries")
	run("mcopy", "-i", p1, filepath.Join(esp, "loader", "entries", "svinit.conf"), "::/loader/entries/")
	run("mcopy", "-i", p1, filepath.Join(esp, "vmlinuz"), filepath.Join(esp, "initrd.gz"), "::/")

	// Partition 2: ext4, a GRUB config.
	tree := filepath.Join(dir, "boot")
	write(filepath.Join(tree, "boot", "grub", "grub.cfg"), fmt.Sprintf(
		"set timeout=5\nmenuentry '%s' {\n\tlinux /boot/vmlinuz %s\n\tinitrd /boot/initrd.gz\n}\n", grubTitle, cmdline(grubHost)))
	copyFile(e.kernel, filepath.Join(tree, "boot", "vmlinuz"))
	copyFile(initrd, filepath.Join(tree, "boot", "initrd.gz"))
	p2 := filepath.Join(dir, "p2.img")
	run("mkfs.ext4", "-q", "-F", "-d", tree, "-L", "svboot", p2, fmt.Sprintf("%dM", partMiB))

	disk := filepath.Join(dir, "disk.img")
	run("truncate", "-s", fmt.Sprintf("%dM", 2*partMiB+2), disk)
	table := fmt.Sprintf("label: gpt\nstart=2048, size=%d, type=uefi, name=esp\nstart=%d, size=%d, type=linux, name=boot\n",
		partMiB*2048, 2048+partMiB*2048, partMiB*2048)
	cmd := exec.Command("sfdisk", "-q", disk)
	cmd.Stdin = strings.NewReader(table)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk %s: %v\n%s", disk, err, out)
	}
	run("dd", "if="+p1, "of="+disk, "bs=1M", "seek=1", "conv=notrunc", "status=none")
	run("dd", "if="+p2, "of="+disk, "bs=1M", fmt.Sprintf("seek=%d", 1+partMiB), "conv=notrunc", "status=none")
	return disk
}

// TestKexecBootMenu boots the boot menu image with the disk: svboot
// finds both entries and shows the menu; Default lets the countdown
// run out and the BLS entry boots, Typed types 2 and the GRUB entry
// boots. Each time the first system stops its services in order
// (chatty's finish reaches the console through its logger) and kexecs;
// the second comes up with the entry's host name.
func TestKexecBootMenu(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, kexecImage)
	second := buildImage(t, e, minimalImage)
	disk := makeBootDisk(t, e, second)
	drive := []string{"-drive", "file=" + disk + ",format=raw,if=virtio,snapshot=on"}

	for _, tc := range []struct {
		name    string
		timeout int    // svinit.boot.timeout=
		key     string // typed when the countdown shows; "" for none
		param   string // svinit.boot=, or ""
		how     string // how svboot says the entry was chosen
		entry   int
		title   string
		host    string
	}{
		{"Default", 2, "", "", "after the countdown", 1, blsTitle, blsHost},
		{"Typed", 30, "2", "", "chosen on the console", 2, grubTitle, grubHost},
		// A title with a blank, quoted as the kernel reads it: no
		// countdown at all.
		{"Cmdline", 30, "", `"` + grubTitle + `"`, "svinit.boot=" + grubTitle, 2, grubTitle, grubHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// What the second kernel prints first: its command line.
			secondKernel := "Command line: " + entryCmdline(tc.host)
			params := []string{fmt.Sprintf("svinit.boot.timeout=%d", tc.timeout)}
			if tc.param != "" {
				params = append(params, "svinit.boot="+tc.param)
			}
			g := boot(t, e, "kexec-"+strings.ToLower(tc.name), img, bootOpts{
				append:  params,
				qemuArg: drive,
				watch:   []string{"svboot: boot entries:", "svinit-shutdown: kexec requested", secondKernel},
			})
			g.expect(bootTimeout, "svboot: boot entries:")
			var menu string
			if tc.param == "" {
				menu = g.expect(cmdTimeout, "a key stops the countdown")
				want := fmt.Sprintf("booting 1) %s in %d s;", blsTitle, tc.timeout)
				if !strings.Contains(menu, want) {
					t.Errorf("the countdown line lacks %q (BLS ranks first):\n%s", want, menu)
				}
			}
			if tc.key != "" {
				g.send(tc.key)
			}
			menu += g.expect(cmdTimeout, "): kernel command line")
			chosen := regexp.MustCompile(`svboot: boot (\d)\) ([^(]*) \(([^,]*), `).FindStringSubmatch(menu)
			if chosen == nil {
				t.Fatalf("no choice on the console:\n%s", menu)
			}
			for _, e := range []string{" * 1) " + blsTitle + "  [vda1 BLS]", "   2) " + grubTitle + "  [vda2 GRUB]"} {
				if !strings.Contains(menu, e) {
					t.Errorf("the menu lacks %q:\n%s", e, menu)
				}
			}
			if tc.param != "" && strings.Contains(menu, "countdown") {
				t.Errorf("svinit.boot= still showed a countdown:\n%s", menu)
			}
			if chosen[1] != fmt.Sprint(tc.entry) || strings.TrimSpace(chosen[2]) != tc.title || chosen[3] != tc.how {
				t.Errorf("booted %s) %q (%s), want %d) %q (%s)", chosen[1], chosen[2], chosen[3], tc.entry, tc.title, tc.how)
			}
			loaded := g.expectRe(cmdTimeout, `svboot: loaded .* in (\S+); asking svinit for kexec`)
			g.expect(cmdTimeout, "svinit-shutdown: kexec requested")
			g.expect(cmdTimeout, "boottest-chatty: finish ran")
			g.expectRe(cmdTimeout, `svinit-final: every process gone after|processes left after`)
			fs := g.expectRe(cmdTimeout, `svinit-final: file systems: (\d+) unmounted, (\d+) remounted read-only, (\d+) left`)
			if fs[3] != "0" {
				t.Errorf("file systems left mounted before kexec: %s", fs[0])
			}
			stop := g.expectRe(cmdTimeout, fmt.Sprintf(finalRe, "kexec"))
			// The second kernel: its command line, then its init.
			g.expect(bootTimeout, secondKernel)
			g.expect(bootTimeout, "Run /init")
			secondInit := time.Now()
			g.expect(bootTimeout, "svinit on "+tc.host)
			g.prompt()
			g.run("echo 1 > /proc/sys/kernel/printk")
			if out := g.run("cat /proc/cmdline"); !strings.Contains(out, "svinit.hostname="+tc.host) {
				t.Errorf("not the entry's kernel command line: %q", out)
			}
			menuAt, ok1 := g.rec.at("svboot: boot entries:")
			reqAt, ok2 := g.rec.at("svinit-shutdown: kexec requested")
			kernAt, ok3 := g.rec.at(secondKernel)
			if ok1 && ok2 && ok3 {
				t.Logf("%s (TCG=%v): power-on to the second kernel's Run /init %s (host clock); menu shown at %s, kexec requested at %s (kernel loaded in %s), orderly stop %s (guest clock, request to reboot(2)), second kernel up at %s",
					tc.name, e.accel == "tcg", ms(secondInit.Sub(g.rec.t0)), ms(menuAt.Sub(g.rec.t0)), ms(reqAt.Sub(g.rec.t0)), loaded[1], stop[1], ms(kernAt.Sub(g.rec.t0)))
			}
			if tc.name == "Default" {
				// No kernel loaded here: reboot -k refuses, and
				// nothing is stopped (the shell still answers).
				out, rc := g.runStatus(cmdTimeout, "reboot -k 2>&1")
				if rc != 111 || !strings.Contains(out, "no kernel is loaded for kexec") || !strings.Contains(out, "nothing was stopped") {
					t.Errorf("reboot -k with no kernel loaded: exit %d, %q; want 111 and the refusal", rc, out)
				}
				g.run("svstat /run/service/svscan-log")
			}
			shutdown(t, g, "poweroff", "")
		})
	}
}
