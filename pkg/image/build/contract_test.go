package build

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/inspect"
	"github.com/svinit/svinit/pkg/image/internal/imagetest"
	"github.com/svinit/svinit/pkg/shutdown"
	"github.com/svinit/svinit/pkg/stage1"
)

// extract writes the entries of an image under root: directories,
// regular files and symbolic links as they are; a device node or FIFO
// becomes an empty regular file of its name (enough to see it is there).
func extract(t *testing.T, root string, es []*cpio.Entry) {
	t.Helper()
	for _, e := range es {
		p := filepath.Join(root, filepath.FromSlash(e.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch e.Mode & cpio.TypeMask {
		case cpio.TypeDir:
			err = os.MkdirAll(p, 0o755)
			if err == nil {
				err = os.Chmod(p, os.FileMode(e.Mode&0o777))
			}
		case cpio.TypeSymlink:
			err = os.Symlink(e.Link, p)
		case cpio.TypeRegular:
			err = os.WriteFile(p, e.Data, 0o600)
			if err == nil {
				err = os.Chmod(p, os.FileMode(e.Mode&0o777))
			}
		default:
			err = os.WriteFile(p, nil, 0o600)
		}
		if err != nil {
			t.Fatalf("extract /%s: %v", e.Name, err)
		}
	}
}

// TestLayoutIsTheBootContract builds an image and runs stage 1's and
// shutdown's own readers on it: every path they use at run time is
// where the generator put it, because both take it from pkg/bootfs.
func TestLayoutIsTheBootContract(t *testing.T) {
	repo, ro := fixture(t)
	_, data := buildFixture(t, repo, ro, imagetest.FixtureDef, 0)
	es, _, err := inspect.ReadImage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	extract(t, root, es)
	inImage := map[string]*cpio.Entry{}
	for _, e := range es {
		inImage[e.Name] = e
	}

	// The kernel runs /init; stage 1 execs svscan and needs the console.
	if e := inImage[bootfs.Rel(bootfs.Init)]; e == nil || e.Link != "bbin/uinit" {
		t.Errorf("%s: %+v, want a link to bbin/uinit", bootfs.Init, e)
	}
	if fi, err := os.Stat(bootfs.Under(root, bootfs.Svscan)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s does not lead to a program: %v", bootfs.Svscan, err)
	}
	if e := inImage[bootfs.Rel(bootfs.Console)]; e == nil || e.Mode&cpio.TypeMask != cpio.TypeChar || e.Major != 5 || e.Minor != 1 {
		t.Errorf("%s: %+v, want the character device 5:1", bootfs.Console, e)
	}
	// Stage 1 mounts on the image's directories (the top ones at least:
	// /dev/pts and the like are made once /dev is mounted).
	for _, m := range bootfs.EarlyMounts {
		top := strings.SplitN(bootfs.Rel(m.Target), "/", 2)[0]
		if e := inImage[top]; e == nil || !e.IsDir() {
			t.Errorf("mount point %s: no /%s directory in the image", m.Target, top)
		}
	}
	for _, dir := range strings.Split(bootfs.DefaultPath, ":") {
		if fi, err := os.Stat(bootfs.Under(root, dir)); err != nil || !fi.IsDir() {
			t.Errorf("PATH element %s is not a directory of the image: %v", dir, err)
		}
	}

	// Stage 1 on the extracted image, through its own code.
	var out bytes.Buffer
	var host string
	s := &stage1.Stage1{Root: root, Console: &out, Sys: stage1.Sys{
		Sethostname: func(b []byte) error { host = string(b); return nil },
	}}
	s.Cmdline = bootfs.ReadCmdline(root)
	if !s.Cmdline.Debug {
		t.Errorf("the definition's cmdline (svinit.debug=1) is not read from %s: %+v", bootfs.CmdlineFile, s.Cmdline)
	}
	if err := s.Hostname(); err != nil || host != "testbox" {
		t.Errorf("host name %q (%v), want testbox from %s", host, err, bootfs.HostnameFile)
	}
	if err := s.CopyScandir(); err != nil || strings.Contains(out.String(), "missing") {
		t.Fatalf("CopyScandir: %v\n%s", err, out.String())
	}
	if !s.HaveLogger() {
		t.Errorf("no catch-all logger %s after copying %s", bootfs.LoggerService, bootfs.SeedScandir)
	}
	if err := s.MakeFIFO(); err != nil {
		t.Errorf("MakeFIFO: %v", err)
	}
	stage2, err := os.ReadFile(s.P(s.Stage2Path()))
	if fi, serr := os.Stat(s.P(s.Stage2Path())); err != nil || serr != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("stage 2 %s: not an executable file (%v, %v)", s.Stage2Path(), err, serr)
	}

	// Stage 2 copies from ServicesDir into the scan directory stage 1
	// made, and waits for the services there.
	var copied int
	for _, line := range strings.Split(string(stage2), "\n") {
		f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(line, "foreground { "), " }"))
		switch {
		case len(f) == 10 && f[0] == "if" && f[2] == "cp":
			// if { cp -r SRC SCAN/.NAME } mv SCAN/.NAME SCAN/NAME
			copied++
			if fi, err := os.Stat(filepath.Join(s.P(f[4]), "run")); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("stage 2 copies %s, which has no run file in the image: %v", f[4], err)
			}
			if path.Dir(f[5]) != bootfs.Scandir || !strings.HasPrefix(path.Base(f[5]), ".") {
				t.Errorf("stage 2 copies into %s, not a dot-name of the scan directory %s", f[5], bootfs.Scandir)
			}
			if f[7] != "mv" || f[8] != f[5] || path.Dir(f[9]) != bootfs.Scandir {
				t.Errorf("stage 2 line %q: the copy is not renamed into %s", line, bootfs.Scandir)
			}
		case len(f) > 0 && (f[0] == "svscanctl" || f[0] == "svwait"):
			for _, d := range f[1:] {
				if strings.HasPrefix(d, "/") && d != bootfs.Scandir && path.Dir(d) != bootfs.Scandir {
					t.Errorf("stage 2 line %q: %s is not in %s", line, d, bootfs.Scandir)
				}
			}
		}
	}
	if copied == 0 {
		t.Errorf("stage 2 copies no service:\n%s", stage2)
	}

	// The way down: svinit-shutdown's paths, and the scan directory's
	// hooks that run it.
	h := shutdown.NewHook(shutdown.Poweroff, &out)
	if fi, err := os.Stat(bootfs.Under(root, h.Hook)); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("shutdown hook %s: not an executable file in the image: %v", h.Hook, err)
	}
	if fi, err := os.Stat(filepath.Join(bootfs.Under(root, h.Scandir), ".s6-svscan", "finish")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("svinit-shutdown's scan directory %s has no .s6-svscan/finish after stage 1: %v", h.Scandir, err)
	}
	var onRun bool
	for _, m := range bootfs.EarlyMounts {
		if m.FSType == "tmpfs" && strings.HasPrefix(h.Record, m.Target+"/") {
			onRun = true
		}
	}
	if !onRun {
		t.Errorf("shutdown record %s is not on a tmpfs stage 1 mounts", h.Record)
	}
}

// TestRepositoryHasTheCatchAllLogger: the images this repository ships
// name the catch-all logger the way stage 1 and the scanner look for it.
func TestRepositoryHasTheCatchAllLogger(t *testing.T) {
	repo := imagetest.RepoRoot(t)
	if fi, err := os.Stat(filepath.Join(repo, "templates", bootfs.CatchAllLogger, "run")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("templates/%s/run: not an executable file: %v", bootfs.CatchAllLogger, err)
	}
	defs, _ := filepath.Glob(filepath.Join(repo, "images", "*.yaml"))
	if len(defs) == 0 {
		t.Fatalf("no image definitions in %s/images", repo)
	}
	for _, p := range defs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := image.ParseDefinition(b, p)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range d.EarlyServices {
			if s.Name == bootfs.CatchAllLogger {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s among the early services", p, bootfs.CatchAllLogger)
		}
	}
}
