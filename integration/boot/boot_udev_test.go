package boot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/getty"
	"github.com/svinit/svinit/pkg/image"
)

// udevImage is the test image with a stage 2 that never finishes: it
// logs a line, then sleeps; the line after the sleep (a marker file)
// would only run if stage 2 went on. It adds no services, so what runs
// is only what stage 1 seeded: the catch-all logger, the device manager
// and the console getty.
var udevImage = imageSpec{
	name: "udevboot",
	def:  "integration/boot/testdata/test.yaml",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		d.Services = nil
		d.Stage2.Run = []image.Word{
			{Value: "echo boottest-udev: stage 2 hangs"},
			{Value: "sleep 1000000"},
			{Value: "touch /run/boottest-stage2-finished"},
		}
		d.Stage2.WaitReady = nil
		return nil
	},
}

// TestUdevAndEarlyGetty boots the test image (virtio_pci, virtio_net,
// virtio_blk, virtio_console, virtio_rng, 9p modules, a stage 2 that
// loads none and hangs) with a virtio NIC and a virtio RNG, virtio_rng
// blacklisted on the kernel command line, and checks:
//
//   - the getty's shell answers on the primary console while stage 2 is
//     still running, with the banner (host name, kernel release, tty),
//     and is respawned when killed;
//   - ueventd, not a list, loads the modules: virtio_pci and virtio_net
//     (devices present, logged with the alias), not virtio_rng
//     (blacklisted, logged), not virtio_blk, virtio_console or
//     9pnet_virtio (in the image, no such device);
//   - hotplug: after rmmod virtio_net, a kernel "add" event for the NIC
//     makes ueventd load virtio_net again.
func TestUdevAndEarlyGetty(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, udevImage)
	g := bootShell(t, e, "udevboot", img, bootOpts{
		qemuArg: qemuDevices, // virtio-net-pci and virtio-rng-pci
		append:  []string{"modprobe.blacklist=virtio_rng"},
	})

	g.step(t, "ConsoleBeforeStage2Finishes", func(t *testing.T) {
		waitLog(t, g, "boottest-udev: stage 2 hangs")
		if _, rc := g.runStatus(cmdTimeout, "test -e /run/boottest-stage2-finished"); rc == 0 {
			t.Fatalf("stage 2 finished: the test proves nothing")
		}
		active := strings.TrimSpace(g.run("cat /sys/class/tty/console/active"))
		f := strings.Fields(active)
		if len(f) == 0 {
			t.Fatalf("/sys/class/tty/console/active is empty")
		}
		tty := strings.TrimSpace(g.run("readlink /proc/$$/fd/0"))
		if tty != "/dev/"+f[len(f)-1] {
			t.Errorf("the shell's terminal is %q; the primary console (last of %q) is /dev/%s", tty, active, f[len(f)-1])
		}
		st := strings.TrimSpace(g.run("svstat /run/service/early-getty"))
		if !strings.HasPrefix(st, "up (pid ") {
			t.Errorf("early-getty: %s", st)
		}
		host := strings.TrimSpace(g.run("hostname"))
		rel := strings.TrimSpace(g.run("uname -r"))
		// Kill the shell: the supervisor starts a new getty, whose
		// banner names the host, the kernel and the terminal.
		g.send("kill -9 $$\n")
		g.expect(bootTimeout, fmt.Sprintf("svinit on %s (Linux %s) %s", host, rel, tty))
		g.prompt()
		if _, rc := g.runStatus(cmdTimeout, "test -e /run/boottest-stage2-finished"); rc == 0 {
			t.Errorf("stage 2 finished meanwhile")
		}
	})

	g.step(t, "ModulesByAliasNotByList", func(t *testing.T) {
		stage2 := g.run("cat /etc/svinit/stage2")
		if strings.Contains(stage2, "modprobe") || strings.Contains(stage2, "insmod") {
			t.Fatalf("stage 2 loads modules:\n%s", stage2)
		}
		g.check("svwait -U -t 60000 /run/service/udev")
		// Figure: from ueventd's start to its readiness (coldplug,
		// modules loaded, the events they caused handled).
		if f := strings.Fields(g.run("svstat -o updownsince,readysince /run/service/udev")); len(f) == 2 {
			up, err1 := labelTime(f[0])
			ready, err2 := labelTime(f[1])
			if err1 == nil && err2 == nil {
				t.Logf("udev: up -> ready (coldplug and its modules) %s (guest clock)", ms(ready.Sub(up)))
			}
		}
		raw := g.run("cat /run/uncaught-logs/current")
		for _, want := range []string{
			"ueventd: loaded virtio_pci (for pci:v00001AF4",
			"ueventd: loaded virtio_net (for virtio:d00000001v",
			"ueventd: not loading virtio_rng (for virtio:d00000004v",
		} {
			if !strings.Contains(raw, want) {
				t.Errorf("no %q line in the catch-all log", want)
			}
		}
		// initstate exists only for a loaded module (not a built-in one).
		loaded := func(m string) bool {
			_, rc := g.runStatus(cmdTimeout, "test -e /sys/module/"+m+"/initstate")
			return rc == 0
		}
		for _, m := range []string{"virtio_pci", "virtio_net"} {
			if !loaded(m) {
				t.Errorf("%s is not loaded", m)
			}
		}
		dep := g.run("cat /lib/modules/$(uname -r)/modules.dep")
		for _, m := range []string{"virtio_rng", "virtio_blk", "virtio_console", "9pnet_virtio"} {
			// Module files may spell the name with "-" (virtio-rng.ko).
			if !strings.Contains(dep, "/"+m+".ko") && !strings.Contains(dep, "/"+strings.ReplaceAll(m, "_", "-")+".ko") {
				t.Errorf("%s is not in the image's modules.dep: the check below proves nothing", m)
			}
			if loaded(m) {
				t.Errorf("%s is loaded: its device is absent or it is blacklisted", m)
			}
		}
	})

	g.step(t, "HotplugLoadsAgain", func(t *testing.T) {
		var dev string
		for _, l := range strings.Split(g.run(`for d in /sys/bus/virtio/devices/*; do echo "$d $(cat $d/modalias)"; done`), "\n") {
			if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(f[1], "virtio:d00000001v") {
				dev = f[0]
			}
		}
		if dev == "" {
			t.Fatal("no virtio network device in /sys/bus/virtio/devices")
		}
		g.run("rmmod virtio_net")
		if _, rc := g.runStatus(cmdTimeout, "test -e /sys/module/virtio_net"); rc == 0 {
			t.Fatal("virtio_net still loaded after rmmod")
		}
		g.run("echo add > " + dev + "/uevent")
		deadline := time.Now().Add(90 * time.Second)
		for {
			if _, rc := g.runStatus(cmdTimeout, "test -e /sys/module/virtio_net/initstate"); rc == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("virtio_net not loaded again 90 s after the add event; log:\n%s", g.run("cat /run/uncaught-logs/current"))
			}
			g.run("sleep 1")
		}
		raw := g.run("cat /run/uncaught-logs/current")
		if n := strings.Count(raw, "ueventd: loaded virtio_net (for virtio:d00000001v"); n != 2 {
			t.Errorf("%d 'loaded virtio_net' lines, want 2 (boot, then the hotplug event)", n)
		}
		nets := strings.Fields(g.run("ls /sys/class/net"))
		if len(nets) < 2 {
			t.Errorf("no network interface besides lo after the reload: %v", nets)
		}
	})
}

// gettyPassword is the console password of gettyPasswordImage.
const gettyPassword = "boottest-console-pw"

// gettyPasswordImage is the minimal image with a console password set
// the way an image definition sets one: a files: entry with the
// password line as content.
var gettyPasswordImage = imageSpec{
	name:        "gettypw",
	def:         "images/minimal.yaml",
	compression: "gzip",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		entry, err := getty.HashPassword("boottest", gettyPassword)
		if err != nil {
			return err
		}
		d.Files = append(d.Files, image.File{
			Dst:     image.Word{Value: "/etc/svinit/getty-password"},
			Content: image.Word{Value: entry + "\n"},
			Mode:    image.Word{Value: "0600"},
		})
		return nil
	},
}

// TestEarlyGettyPassword: with a password in the image definition the
// console asks for it (without echo), refuses a wrong one, and gives the
// shell for the right one. (Without one, every other boot test gets the
// shell straight away: off by default.)
func TestEarlyGettyPassword(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, gettyPasswordImage)
	var seen strings.Builder
	g := boot(t, e, "gettypw", img, bootOpts{})
	seen.WriteString(g.expect(g.wait4shell(), "svinit on "))
	seen.WriteString(g.expect(g.wait4shell(), "Password: "))
	g.send("wrong-password\r")
	seen.WriteString(g.expect(60*time.Second, "Login incorrect"))
	seen.WriteString(g.expect(60*time.Second, "Password: "))
	g.send(gettyPassword + "\r")
	g.prompt()
	g.run("echo 1 > /proc/sys/kernel/printk")
	for _, pw := range []string{"wrong-password", gettyPassword} {
		if strings.Contains(seen.String(), pw) {
			t.Errorf("the console echoed the password %q", pw)
		}
	}
	if out := g.run("cat /etc/svinit/getty-password"); !strings.HasPrefix(out, "$6$boottest$") {
		t.Errorf("/etc/svinit/getty-password: %q", out)
	}
}
