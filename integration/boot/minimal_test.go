package boot

import "testing"

var minimalImage = imageSpec{name: "minimal", def: "images/minimal.yaml"}

// TestMinimalImage boots images/minimal.yaml: the supervision tree, the
// catch-all logger and the getty's shell, then powers off.
func TestMinimalImage(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, minimalImage)
	g := bootShell(t, e, "minimal", img, bootOpts{})
	t.Run("EarlyServices", func(t *testing.T) {
		g.t = t
		checkEarlyServices(t, g, []string{"svscan-log", "early-getty"})
		checkCatchAllLog(t, g, "")
	})
	t.Run("EverythingSupervised", func(t *testing.T) {
		g.t = t
		checkSupervised(t, g)
	})
	t.Run("Poweroff", func(t *testing.T) {
		g.t = t
		shutdown(t, g, "poweroff", "")
	})
}
