package plan

import (
	"testing"

	"github.com/svinit/svinit/pkg/image/internal/imagetest"
)

// fixture is imagetest.Fixture with the options that find its u-root.
func fixture(t *testing.T) (root string, o Options) {
	t.Helper()
	root, udir := imagetest.Fixture(t)
	return root, Options{URootDir: udir}
}

var writeFile = imagetest.WriteFile
