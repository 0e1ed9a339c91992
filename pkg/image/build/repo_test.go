package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/inspect"
	"github.com/svinit/svinit/pkg/image/internal/imagetest"
	"github.com/svinit/svinit/pkg/image/plan"
)

// TestRealBusyboxReproducible builds a small image with the real busybox
// builder twice and compares the bytes (Go builds with -trimpath and no
// build ID are reproducible).
func TestRealBusyboxReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping two busybox builds")
	}
	root := imagetest.RepoRoot(t)
	def := "commands: [gosh, true]\ninit: gosh\ncompression: none\n"
	var images [][]byte
	for i := 0; i < 2; i++ {
		d, err := image.ParseDefinition([]byte(def), "repro.yaml")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "img.cpio")
		res, err := Image(context.Background(), d, Options{Root: root, Output: out, Resolve: plan.Options{NoOwnCommands: true}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(res.Output)
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, b)
	}
	if !bytes.Equal(images[0], images[1]) {
		a, _ := cpio.ReadCPIO(bytes.NewReader(images[0]))
		b, _ := cpio.ReadCPIO(bytes.NewReader(images[1]))
		t.Fatalf("two builds differ: %v", inspect.Diff(a, b))
	}
	es, err := cpio.ReadCPIO(bytes.NewReader(images[0]))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, e := range es {
		found[e.Name] = true
		if e.Name == "bbin/bb" && !bytes.HasPrefix(e.Data, []byte("\x7fELF")) {
			t.Error("/bbin/bb is not an ELF binary")
		}
	}
	for _, n := range []string{"bbin/bb", "bbin/gosh", "bbin/true", "bin/true", "bin/sh", "init"} {
		if !found[n] {
			t.Errorf("/%s missing", n)
		}
	}
}
