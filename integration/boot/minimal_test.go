package boot

import "testing"

var minimalImage = imageSpec{name: "minimal", def: "images/minimal.yaml"}

// TestMinimalImage boots images/minimal.yaml: the supervision tree, the
// catch-all logger and the getty's shell, then powers off.
func TestMinimalImage(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, minimalImage)
	g := bootShell(t, e, "minimal", img, bootOpts{})
	g.step(t, "EarlyServices", func(t *testing.T) {
		checkEarlyServices(t, g, []string{"svscan-log", "early-getty"})
		checkCatchAllLog(t, g, "")
	})
	g.step(t, "EverythingSupervised", func(t *testing.T) {
		checkSupervised(t, g)
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}
