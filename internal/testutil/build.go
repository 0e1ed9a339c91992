package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RepoRoot returns the repository's root: the nearest directory above
// the working directory (a test runs in its package's directory) that
// holds go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no go.mod above the working directory: run the tests inside the repository")
		}
		dir = up
	}
}

// Root is RepoRoot for a test: it fails the test if there is none.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// GoBuild runs "go build -o dir/ pkgs..." in the repository's root, so
// that a package is named either by its path there ("./cmds/svc") or by
// its import path; env is added to the environment (e.g. "CGO_ENABLED=0"
// for static binaries). Each command lands in dir under its last path
// element. The error holds the go tool's output. For TestMain; tests
// call Build.
func GoBuild(dir string, env []string, pkgs ...string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	// go test puts GOROOT/bin first in PATH: the go that runs the tests.
	cmd := exec.Command("go", append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = root
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %q: %v\n%s", pkgs, err, out)
	}
	return nil
}

// Build is GoBuild for a test: it fails the test if the build fails.
func Build(t testing.TB, dir string, env []string, pkgs ...string) {
	t.Helper()
	if err := GoBuild(dir, env, pkgs...); err != nil {
		t.Fatal(err)
	}
}

// Commands builds the repository's commands (cmds/NAME) into a new
// temporary directory and returns it.
func Commands(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	pkgs := make([]string, len(names))
	for i, n := range names {
		pkgs[i] = "./cmds/" + n
	}
	Build(t, dir, nil, pkgs...)
	return dir
}

// Command builds the command cmds/NAME and returns the binary's path.
func Command(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(Commands(t, name), name)
}
