package boot

import (
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
)

// rcImage is images/minimal.yaml with the service graph of
// testdata/rc: a oneshot mounting a tmpfs, a longrun needing it that
// notifies readiness a second after it starts, and a longrun needing
// that one. Each writes its name into the tmpfs when it runs (the
// daemons before they notify readiness).
var rcImage = imageSpec{name: "rc", def: "images/minimal.yaml",
	edit: func(t *testing.T, e *env, d *image.Definition) error {
		d.Rc.From = []image.Word{{Value: "integration/boot/testdata/rc"}}
		d.Commands = append(d.Commands, image.Word{Value: "echo"}, image.Word{Value: "sleep"})
		return nil
	}}

// TestRcGraph boots an image whose stage 2 is svrc -u change default,
// and checks that the order held: the tmpfs mounted before the daemon
// needing it started, and the last daemon started only once the one it
// needs had said it was ready.
func TestRcGraph(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, rcImage)
	g := bootShell(t, e, "rc", img, bootOpts{})
	g.step(t, "Order", func(t *testing.T) {
		// Waits for stage 2's svrc (-b: its lock), then finds
		// nothing left to do.
		g.run("svrc -b -u change default")
		order := strings.Fields(g.run("cat /run/rctest/order"))
		if strings.Join(order, " ") != "mnt db db-ready web" {
			t.Errorf("order %q, want mnt db db-ready web", order)
		}
		if m := g.run("cat /proc/mounts"); !strings.Contains(m, "rctest /run/rctest tmpfs") {
			t.Errorf("no tmpfs on /run/rctest:\n%s", m)
		}
		st := g.run("svrc status")
		for _, l := range strings.Split(st, "\n") {
			f := strings.Fields(l)
			if len(f) < 3 || f[0] == "NAME" {
				continue
			}
			if f[2] != "up" {
				t.Errorf("not up: %s\n%s", l, st)
			}
		}
		if s := g.run("svstat /run/service/db"); !strings.Contains(s, "ready") {
			t.Errorf("db not ready: %s", s)
		}
	})
	g.step(t, "Stop", func(t *testing.T) {
		g.run("svrc -d change mnt")
		if m := g.run("svrc -da list"); strings.Join(strings.Fields(m), " ") != "db mnt web" {
			t.Errorf("down after -d change mnt: %q", m)
		}
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}
