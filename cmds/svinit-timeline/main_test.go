package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
)

// scandir lays out a scan directory with one service spawned a second
// ago and ready now.
func scandir(t *testing.T) string {
	dir := t.TempDir()
	svc := filepath.Join(dir, "svc")
	if err := os.MkdirAll(filepath.Join(svc, "supervise"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(svc, "notification-fd"), []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st := servicedir.Status{Stamp: tai64n.FromTime(now.Add(-time.Second)), ReadyStamp: tai64n.Now(), Pid: uint64(os.Getpid()), Ready: true, WantUp: true}
	if err := servicedir.WriteStatus(svc, &st); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runCmd(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	err := run(append([]string{prog}, args...), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), cli.Code(err)
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-x"}, {"-e", "0"}, {"-e", "soon"}, {"-w", "20"}, {"-d", ""}, {"-m", ""}, {"-o", ""}, {"extra"},
	} {
		if _, _, code := runCmd(args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, cli.ExitUsage)
		}
	}
	if _, _, code := runCmd("-d", filepath.Join(t.TempDir(), "none")); code != cli.ExitSystem {
		t.Errorf("missing scan directory: exit %d, want %d", code, cli.ExitSystem)
	}
}

func TestFormats(t *testing.T) {
	dir := scandir(t)
	logs := t.TempDir()
	base := []string{"-d", dir, "-l", logs, "-k", ""}

	out, _, code := runCmd(base...)
	if code != 0 || !strings.Contains(out, "\nsvc ") || !strings.Contains(out, "boot timeline: ") {
		t.Errorf("text: exit %d\n%s", code, out)
	}

	out, _, code = runCmd(append([]string{"-j"}, base...)...)
	var doc struct {
		Schema   string
		Services []struct {
			Name           string
			Spawned, Ready *float64
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	if doc.Schema != "svinit-timeline/1" || len(doc.Services) != 1 || doc.Services[0].Name != "svc" ||
		doc.Services[0].Spawned == nil || doc.Services[0].Ready == nil || *doc.Services[0].Ready-*doc.Services[0].Spawned < 0.99 {
		t.Errorf("json: %+v", doc)
	}

	// -o: the file is replaced whole; the warnings (no current in the
	// log directory) still reach stderr.
	svg := filepath.Join(t.TempDir(), "boot.svg")
	os.WriteFile(svg, []byte("old"), 0o600)
	out, errOut, code := runCmd(append([]string{"-s", "-o", svg, "-m", "never"}, base...)...)
	if code != 0 || out != "" || !strings.Contains(errOut, `svinit-timeline: warning: mark "never"`) {
		t.Errorf("svg -o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	f, err := os.Open(svg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	names := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", svg, err)
		}
		if c, ok := tok.(xml.CharData); ok && string(c) == "svc" {
			names++
		}
	}
	if names != 1 {
		t.Errorf("the SVG names svc %d times, want 1", names)
	}
	if fi, _ := os.Stat(svg); fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v", svg, fi.Mode())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(svg), ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestDefaultLogDir: the default log directory is the one the catch-all
// logger's template writes to.
func TestDefaultLogDir(t *testing.T) {
	run, err := os.ReadFile(filepath.Join("..", "..", "templates", bootfs.CatchAllLogger, "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(run), " "+bootfs.CatchAllLogDir+"\n") {
		t.Errorf("templates/%s/run does not log to %s:\n%s", bootfs.CatchAllLogger, bootfs.CatchAllLogDir, run)
	}
}
