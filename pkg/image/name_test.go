package image

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDefinitionName: the name stage 2 gives its definition does not
// depend on how the path was spelt (images built from ./images/x.yaml,
// images/x.yaml or /abs/images/x.yaml are the same bytes; plan's
// TestStage2NamesItsDefinition: stage 2 says it).
func TestDefinitionName(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "images"), 0o755)
	other := t.TempDir()
	t.Chdir(root)
	for _, tc := range []struct{ root, path, want string }{
		{root, "images/x.yaml", "images/x.yaml"},
		{root, "./images/x.yaml", "images/x.yaml"},
		{root, filepath.Join(root, "images/x.yaml"), "images/x.yaml"},
		{root, "images/../images/x.yaml", "images/x.yaml"},
		{".", "images/x.yaml", "images/x.yaml"},
		{filepath.Join(root, "images"), "images/x.yaml", "x.yaml"},
		{root, filepath.Join(other, "y.yaml"), "y.yaml"},
		{root, "../x.yaml", "x.yaml"},
		{root, "..x.yaml", "..x.yaml"},
	} {
		if got := DefinitionName(tc.root, tc.path); got != tc.want {
			t.Errorf("DefinitionName(%q, %q) = %q, want %q", tc.root, tc.path, got, tc.want)
		}
	}
}
