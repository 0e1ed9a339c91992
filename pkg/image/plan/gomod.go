package plan

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ModuleDir returns the directory of a module of root's build list,
// downloading the module into the Go module cache first when it is not
// there yet (a fresh clone: go list -m names a module's directory only
// once it is downloaded). The download is announced on progress (nil:
// silent).
func ModuleDir(root, module string, progress io.Writer) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}} {{.Dir}}", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", goError("go list -m "+module, err)
	}
	version, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if dir != "" {
		return dir, nil
	}
	if progress == nil {
		progress = io.Discard
	}
	fmt.Fprintf(progress, "mkimage: downloading %s %s (not in the Go module cache yet)...\n", module, version)
	cmd = exec.Command("go", "mod", "download", "-json", module)
	cmd.Dir = root
	out, err = cmd.Output()
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr == nil && m.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", module, m.Error)
	}
	if err != nil {
		return "", goError("go mod download "+module, err)
	}
	if m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory in its answer %q", module, bytes.TrimSpace(out))
	}
	return m.Dir, nil
}

// DownloadModules makes sure the Go module cache holds every module the
// packages (import paths, or directories of root's module) and their
// dependencies come from, for linux/amd64 without cgo (the busybox
// build), downloading what is missing. Each module downloaded is
// announced on progress as "mkimage: downloading MODULE VERSION", so a
// first build in a fresh clone does not sit silent. With everything
// already in the cache it downloads nothing and prints nothing.
func DownloadModules(ctx context.Context, root string, pkgs []string, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	// go list -deps loads exactly the packages the build needs, and so
	// fetches exactly their modules (go list -m does not download).
	args := append([]string{"list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go list -deps: %w", err)
	}
	var other []string
	n := 0
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if m, ok := strings.CutPrefix(line, "go: downloading "); ok {
			n++
			fmt.Fprintf(progress, "mkimage: downloading %s\n", m)
			continue
		}
		other = append(other, line)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := strings.Join(other, "\n")
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("fetching the Go modules the busybox needs (go list -deps): %s", msg)
	}
	if n > 0 {
		fmt.Fprintf(progress, "mkimage: downloaded %d modules in %.1fs\n", n, time.Since(start).Seconds())
	}
	return nil
}

// goError formats a failed go command with what it printed.
func goError(what string, err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%s: %s", what, strings.TrimSpace(string(ee.Stderr)))
	}
	return fmt.Errorf("%s: %w", what, err)
}
