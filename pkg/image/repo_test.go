package image

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/inspect"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func repoDefinitions(t *testing.T, root string) map[string]*Definition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "images", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no images/*.yaml: %v", err)
	}
	out := map[string]*Definition{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		d, err := ParseDefinition(data, rel)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out[rel] = d
	}
	return out
}

// TestToolsSync: every command an image lists is a u-root command imported
// by tools.go (mkuimage builds from go.mod, which tools.go keeps complete).
func TestToolsSync(t *testing.T) {
	root := repoRoot(t)
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
	for name, d := range repoDefinitions(t, root) {
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
	root := repoRoot(t)
	// The definitions take modules from the Debian kernel kernel.sh caches
	// (fetched now if absent; CI must have it).
	if out, err := exec.Command(filepath.Join(root, "scripts/kernel.sh"), "-q").CombinedOutput(); err != nil {
		t.Fatalf("scripts/kernel.sh (fetches the Debian kernel with apt-get download): %v\n%s", err, out)
	}
	for name, d := range repoDefinitions(t, root) {
		p, err := Resolve(d, root, ResolveOptions{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		a := cpio.NewArchive()
		if err := p.Layout(a); err != nil {
			t.Errorf("%s: layout: %v", name, err)
		}
		p.Close()
	}
}

// TestRealBusyboxReproducible builds a small image with the real busybox
// builder twice and compares the bytes (Go builds with -trimpath and no
// build ID are reproducible).
func TestRealBusyboxReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping two busybox builds")
	}
	root := repoRoot(t)
	def := "commands: [gosh, true]\ninit: gosh\ncompression: none\n"
	var images [][]byte
	for i := 0; i < 2; i++ {
		d, err := ParseDefinition([]byte(def), "repro.yaml")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "img.cpio")
		res, err := Build(context.Background(), d, Options{Root: root, Output: out, Resolve: ResolveOptions{NoOwnCommands: true}})
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
