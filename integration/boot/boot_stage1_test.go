package boot

import (
	"strings"
	"testing"
	"time"
)

// TestStage1Knobs boots the minimal image with stage 1's kernel command
// line parameters: svinit.stage2= naming a program that does not exist
// (with svinit.debug), then svinit.rescue.
func TestStage1Knobs(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, minimalImage)

	t.Run("MissingStage2", func(t *testing.T) {
		debug := []string{"uinit: stage 1 starting (svinit.debug)", "handing over to /bin/svscan /run/service"}
		missing := "uinit: stage 2: cannot run /nonexistent"
		g := bootShell(t, e, "stage1-missing-stage2", img, bootOpts{
			append: []string{"svinit.stage2=/nonexistent", "svinit.debug"},
			watch:  append(debug, missing),
		})
		g.step(t, "DebugMessages", func(t *testing.T) {
			for _, w := range debug {
				if _, ok := g.rec.at(w); !ok {
					t.Errorf("svinit.debug: %q not on the console", w)
				}
			}
		})
		g.step(t, "SupervisionUpAnyway", func(t *testing.T) {
			// A broken stage 2 must leave the early services and a console.
			checkEarlyServices(t, g, []string{"svscan-log", "early-getty"})
		})
		g.step(t, "StageTwoErrorReported", func(t *testing.T) {
			// On the console and, through the FIFO, in the catch-all log.
			for try := 0; ; try++ {
				out, rc := g.runStatus(cmdTimeout, "cat /run/uncaught-logs/current")
				if rc == 0 && strings.Contains(out, missing) {
					break
				}
				if try == 30 {
					t.Errorf("%q never reached the catch-all log:\n%s", missing, out)
					break
				}
				time.Sleep(time.Second)
			}
			if _, ok := g.rec.at(missing); !ok {
				t.Errorf("%q not on the console", missing)
			}
		})
		g.step(t, "Poweroff", func(t *testing.T) {
			shutdown(t, g, "poweroff", "")
		})
	})

	t.Run("Rescue", func(t *testing.T) {
		reason := "uinit: svinit.rescue on the kernel command line"
		g := boot(t, e, "stage1-rescue", img, bootOpts{append: []string{"svinit.rescue"}, watch: []string{reason}})
		g.expect(g.wait4shell(), "uinit: starting the rescue shell /bin/getty")
		g.shell()
		g.step(t, "RescueShell", func(t *testing.T) {
			if _, ok := g.rec.at(reason); !ok {
				t.Errorf("%q not on the console", reason)
			}
			// Stage 1 stopped before the scan directory: nothing supervised.
			if out := g.run("ls /run"); strings.Contains(out, "service") {
				t.Errorf("/run/service exists in the rescue shell:\n%s", out)
			}
			// The early file systems are mounted all the same.
			out := g.run("cat /proc/mounts")
			for _, m := range []string{" /proc proc ", " /sys sysfs ", " /dev devtmpfs ", " /run tmpfs "} {
				if !strings.Contains(out, m) {
					t.Errorf("%q not mounted in the rescue shell:\n%s", m, out)
				}
			}
		})
		g.step(t, "PoweroffForce", func(t *testing.T) {
			// No svscan to ask: -f calls reboot(2) at once.
			g.send("poweroff -f\n")
			g.wait(cmdTimeout)
		})
	})
}
