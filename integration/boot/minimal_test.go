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

// TestCompressions boots images/minimal.yaml compressed in each of the
// other formats mkimage writes (the boot tests use gzip otherwise): the
// kernel must unpack each, and the supervision tree come up from it.
func TestCompressions(t *testing.T) {
	e := needEnv(t)
	for _, comp := range []string{"none", "xz", "zstd", "lz4"} {
		t.Run(comp, func(t *testing.T) {
			spec := minimalImage
			spec.name, spec.compression = "minimal-"+comp, comp
			img := buildImage(t, e, spec)
			g := bootShell(t, e, spec.name, img, bootOpts{})
			g.step(t, "EarlyServices", func(t *testing.T) {
				checkEarlyServices(t, g, []string{"svscan-log", "early-getty"})
			})
			g.step(t, "Poweroff", func(t *testing.T) {
				shutdown(t, g, "poweroff", "")
			})
		})
	}
}
