package boot

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/image"
)

// linuxbootImage is images/linuxboot.yaml (net, sshd, the boot menu and
// netboot in its default bundle) plus what the Debian kernel, whose
// network drivers are modules, needs for QEMU's network card: a
// firmware's kernel has them built in.
var linuxbootImage = imageSpec{name: "linuxboot", def: "images/linuxboot.yaml",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		d.Kernel = image.Word{Value: ".cache/kernel/root"}
		for _, m := range []string{"virtio_pci", "virtio_net", "af_packet"} {
			d.Modules.Include = append(d.Modules.Include, image.Word{Value: m})
		}
		d.Stage2.Modules = []image.Word{{Value: "virtio_pci"}, {Value: "virtio_net"}, {Value: "af_packet"}}
		d.Commands = append(d.Commands, image.Word{Value: "modprobe"})
		return nil
	}}

// pxeConfig is the PXELINUX configuration the TFTP server offers: the
// second image (testdata/second.yaml) with a marker on its command line.
const pxeConfig = `DEFAULT second
PROMPT 0
TIMEOUT 10

LABEL first
  KERNEL nothere
  APPEND console=ttyS0 wrong=1

LABEL second
  KERNEL vmlinuz
  INITRD second.cpio.gz
  APPEND ` + defaultAppnd + ` svinit.netbooted=1
`

// tftpRoot lays out what QEMU's built-in TFTP server serves: a stand-in
// pxelinux.0 (svnetboot reads the configuration next to it, as u-root's
// pxeboot does), pxelinux.cfg/default, the kernel and the second image.
func tftpRoot(t *testing.T, e *env) string {
	dir := t.TempDir()
	second := buildImage(t, e, secondImage)
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(e.kernel, "vmlinuz")
	copyFile(second, "second.cpio.gz")
	os.MkdirAll(filepath.Join(dir, "pxelinux.cfg"), 0o755)
	os.WriteFile(filepath.Join(dir, "pxelinux.0"), []byte("svinit boot tests: svnetboot never runs this file\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "pxelinux.cfg", "default"), []byte(pxeConfig), 0o644)
	return dir
}

// TestNetboot boots images/linuxboot.yaml on QEMU's user network, whose
// DHCP server names pxelinux.0 on its built-in TFTP server: svnetd takes
// the lease, svnetboot (started once net is ready) reads
// pxelinux.cfg/default, fetches the default entry's kernel and initrd
// over TFTP and asks for the kexec (the boot menu, with no disk, has
// given the console a shell meanwhile); svinit stops its services in
// order and the second image comes up with the entry's command line.
func TestNetboot(t *testing.T) {
	e := needEnv(t)
	dir := tftpRoot(t, e)
	netboot(t, e, dir, "netboot", "tftp="+dir+",bootfile=pxelinux.0", "tftp://10.0.2.2/pxelinux.0", "svinit.netbooted=1")
}

// TestNetbootHTTP: the same with an iPXE script over HTTP. The lease's
// boot file is a URL on an HTTP server of the test's (QEMU's user network
// takes the guest's connections to 10.0.2.2 to the host's 127.0.0.1);
// the script's kernel and initrd lines are relative to it.
func TestNetbootHTTP(t *testing.T) {
	e := needEnv(t)
	dir := tftpRoot(t, e)
	script := "#!ipxe\nkernel vmlinuz " + defaultAppnd + " svinit.ipxe=1\ninitrd second.cpio.gz\nboot\n"
	if err := os.WriteFile(filepath.Join(dir, "boot.ipxe"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("http://10.0.2.2:%d/boot.ipxe", l.Addr().(*net.TCPAddr).Port)
	netboot(t, e, dir, "netboot-http", "bootfile="+url, url, "svinit.ipxe=1")
}

// netboot boots images/linuxboot.yaml on a user network with the given
// options (tftp=, bootfile=), waits for svnetboot to boot bootURL's
// default entry by kexec and checks that the second image runs with
// marker on its command line.
func netboot(t *testing.T, e *env, dir, name, userOpts, bootURL, marker string) {
	img := buildImage(t, e, linuxbootImage)
	g := boot(t, e, name, img, bootOpts{qemuArg: []string{
		"-netdev", "user,id=n0," + userOpts,
		"-device", "virtio-net-pci,netdev=n0",
	}})
	since := func() time.Duration { return time.Since(g.rec.t0) }
	var figs []string
	mark := func(what string) { figs = append(figs, fmt.Sprintf("%s %.1fs", what, since().Seconds())) }

	g.expect(bootTimeout, "svnetboot: boot file eth0: "+bootURL)
	if at, ok := g.rec.at("Run /init"); ok {
		figs = append(figs, fmt.Sprintf("first Run /init %.1fs", at.Sub(g.rec.t0).Seconds()))
	}
	mark("boot file from the lease")
	m := g.expectRe(cmdTimeout, `svnetboot: fetched (.+) \(([0-9]+) bytes\) in ([0-9.]+[a-zµ]+)[\r\n]`)
	mark("fetched")
	n, _ := strconv.Atoi(m[2])
	fetch, err := time.ParseDuration(m[3])
	if err != nil || n == 0 {
		t.Errorf("fetch line %q: %v", m[0], err)
	}
	want := fileSize(t, filepath.Join(dir, "vmlinuz")) + fileSize(t, filepath.Join(dir, "second.cpio.gz"))
	if int64(n) != want {
		t.Errorf("fetched %d bytes, want %d (kernel and initrd)", n, want)
	}
	t.Logf("%s: fetched %d bytes in %v (%.2f MB/s, guest clock)", bootURL, n, fetch, float64(n)/fetch.Seconds()/1e6)
	stop := g.expectRe(cmdTimeout, fmt.Sprintf(finalRe, "kexec"))
	mark("kexec")
	g.expect(bootTimeout, "Run /init")
	mark("second Run /init")
	t.Logf("netboot, host clock from QEMU's start (%s): %s; orderly stop before kexec %s (guest clock)",
		e.accel, strings.Join(figs, ", "), stop[1])
	g.shell()
	if h := g.run("cat /proc/sys/kernel/hostname"); strings.TrimSpace(h) != "second" {
		t.Errorf("host name %q, want the second image's", h)
	}
	if c := g.run("cat /proc/cmdline"); !strings.Contains(c, marker) || strings.Contains(c, "wrong=1") {
		t.Errorf("not the default entry's command line (%s): %q", marker, c)
	}
	checkEarlyServices(t, g, []string{"svscan-log", "early-getty", "chatty", "chatty/log"})
	shutdown(t, g, "poweroff", "")
}

// linuxbootBudget is images/linuxboot.yaml's flash budget (xz).
const linuxbootBudget = 6 << 20

// TestLinuxBootImageSize builds images/linuxboot.yaml as it is, as
// mkimage writes it (xz), and holds it to its budget.
func TestLinuxBootImageSize(t *testing.T) {
	e := needEnv(t)
	spec := imageSpec{name: "linuxboot-xz", def: "images/linuxboot.yaml", compression: "xz"}
	n := fileSize(t, buildImage(t, e, spec))
	t.Logf("images/linuxboot.yaml: %d bytes xz (%.2f MiB; budget %d MiB)", n, float64(n)/(1<<20), linuxbootBudget>>20)
	if n > linuxbootBudget {
		t.Errorf("images/linuxboot.yaml is %d bytes xz, over its %d-byte budget: see docs/linuxboot.md for what weighs", n, linuxbootBudget)
	}
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
