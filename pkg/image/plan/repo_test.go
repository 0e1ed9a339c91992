package plan

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image/internal/imagetest"
)

// TestToolsSync: every command an image lists is a u-root command imported
// by tools.go (mkuimage builds from go.mod, which tools.go keeps complete).
func TestToolsSync(t *testing.T) {
	root := imagetest.RepoRoot(t)
	udir, err := ModuleDir(root, URootModule, nil)
	if err != nil {
		t.Fatal(err)
	}
	uroot, err := URootCommands(udir)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := ToolsImports(root)
	if err != nil {
		t.Fatal(err)
	}
	own, err := OwnCommands(root)
	if err != nil {
		t.Fatal(err)
	}
	optIn := map[string]Command{}
	for _, c := range own {
		if c.OptIn {
			optIn[c.Name] = c
		}
	}
	used := map[string]bool{}
	for name, d := range imagetest.RepoDefinitions(t, root) {
		cmds, err := ResolveCommands(d, optIn, uroot, tools)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, c := range cmds {
			used[c.Package] = true
		}
	}
	// The reverse: a u-root command in tools.go that no image lists is dead weight.
	for p := range tools {
		if strings.HasPrefix(p, URootModule+"/cmds/") && !used[p] {
			t.Errorf("tools.go imports %s but no images/*.yaml lists it", p)
		}
	}
	// go.mod and go.sum hold everything each of them needs to build
	// (what mkuimage's busybox build will ask the go command for).
	args := []string{"list", "-mod=readonly", "-deps", "-e", "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}"}
	for p := range tools {
		args = append(args, p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("go list -deps of tools.go's imports: %v\n%s", err, out)
	}
}

// TestRepoImagesResolve: the repository's definitions resolve (templates,
// commands, modules of the cached Debian kernel).
func TestRepoImagesResolve(t *testing.T) {
	root := imagetest.RepoRoot(t)
	// The definitions take modules from the Debian kernel kernel.sh caches
	// (fetched now if absent; CI must have it).
	if out, err := exec.Command(filepath.Join(root, "scripts/kernel.sh"), "-q").CombinedOutput(); err != nil {
		t.Fatalf("scripts/kernel.sh (fetches the Debian kernel with apt-get download): %v\n%s", err, out)
	}
	for name, d := range imagetest.RepoDefinitions(t, root) {
		p, err := Resolve(d, root, Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := p.Layout(nil); err != nil {
			t.Errorf("%s: layout: %v", name, err)
		}
		p.Close()
	}
}
