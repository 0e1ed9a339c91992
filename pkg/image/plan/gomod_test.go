package plan

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image/internal/imagetest"
)

// TestModulesFromEmptyCache: in a fresh clone (nothing in GOMODCACHE),
// ModuleDir and DownloadModules fetch what is missing, say so, and then
// nothing more; afterwards the go command finds every module of the
// packages without the network. It downloads a few small modules from
// the Go module proxy.
func TestModulesFromEmptyCache(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: downloads modules from the Go module proxy")
	}
	root := imagetest.RepoRoot(t)
	cache := t.TempDir()
	t.Setenv("GOMODCACHE", cache)
	// Writable module files, so that t.TempDir can remove them.
	t.Setenv("GOFLAGS", strings.TrimSpace(os.Getenv("GOFLAGS")+" -modcacherw"))

	var buf bytes.Buffer
	dir, err := ModuleDir(root, "github.com/josharian/native", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if want := "mkimage: downloading github.com/josharian/native v1.1.0"; !strings.Contains(buf.String(), want) {
		t.Errorf("ModuleDir printed %q, want a line %q", buf.String(), want)
	}
	if !strings.HasPrefix(dir, cache+string(filepath.Separator)) {
		t.Errorf("ModuleDir = %s, not under the empty GOMODCACHE %s", dir, cache)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Errorf("downloaded module has no go.mod: %v", err)
	}
	buf.Reset()
	if again, err := ModuleDir(root, "github.com/josharian/native", &buf); err != nil || again != dir || buf.Len() != 0 {
		t.Errorf("second ModuleDir = %q, %v, printed %q; want %s, no error, nothing printed", again, err, buf.String(), dir)
	}

	// github.com/mdlayher/packet imports mdlayher/socket, golang.org/x/net
	// and x/sys: the dependencies' modules must come too.
	pkg := "github.com/mdlayher/packet"
	buf.Reset()
	if err := DownloadModules(context.Background(), root, []string{pkg}, &buf); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"github.com/mdlayher/packet v", "github.com/mdlayher/socket v", "golang.org/x/sys v", "golang.org/x/net v"} {
		if !strings.Contains(buf.String(), "mkimage: downloading "+m) {
			t.Errorf("DownloadModules did not announce %s...:\n%s", m, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "mkimage: downloaded ") {
		t.Errorf("DownloadModules printed no closing line:\n%s", buf.String())
	}
	// Everything is there now: the go command needs no network.
	cmd := exec.Command("go", "list", "-deps", "-mod=readonly", pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("after DownloadModules, go list -deps %s without the proxy: %v\n%s", pkg, err, out)
	}
	buf.Reset()
	if err := DownloadModules(context.Background(), root, []string{pkg}, &buf); err != nil || buf.Len() != 0 {
		t.Errorf("second DownloadModules: %v, printed %q; want nothing", err, buf.String())
	}
}

// TestModuleDirNotInBuildList: a module go.mod does not require is an
// error naming it, not a download.
func TestModuleDirNotInBuildList(t *testing.T) {
	_, err := ModuleDir(imagetest.RepoRoot(t), "example.com/not/required", nil)
	if err == nil || !strings.Contains(err.Error(), "example.com/not/required") {
		t.Fatalf("ModuleDir of a module outside the build list = %v, want an error naming it", err)
	}
}
