package build

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/inspect"
)

func TestAllAliases(t *testing.T) {
	root, ro := fixture(t)
	def := "commands: [gosh]\nkernel: kernel\nmodules: {include: [virtio_net], aliases: all}\ncompression: none\n"
	d, err := image.ParseDefinition([]byte(def), "a.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Image(context.Background(), d, Options{Root: root, Output: "out/a.cpio", Busybox: fakeBusybox, Resolve: ro})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(res.Output)
	defer f.Close()
	es, _, err := inspect.ReadImage(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.Name == "lib/modules/6.1.0-test/modules.alias" {
			want := "alias virtio:d00000002v* virtio_blk\nalias virtio:d00000001v* virtio_net\n"
			if !strings.HasSuffix(string(e.Data), want) {
				t.Errorf("modules.alias %q, want ending %q", e.Data, want)
			}
			return
		}
	}
	t.Error("no modules.alias")
}
