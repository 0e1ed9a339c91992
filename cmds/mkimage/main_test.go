package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/compress"
	"github.com/svinit/svinit/pkg/image/cpio"
	"github.com/svinit/svinit/pkg/image/inspect"
)

func writeImage(t *testing.T, path, comp string, files map[string]string) {
	t.Helper()
	a := cpio.NewArchive()
	for n, c := range files {
		if err := a.File(n, 0o644, []byte(c), ""); err != nil {
			t.Fatal(err)
		}
	}
	a.Symlink("bin/sh", "../bbin/gosh", "")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := compress.Writer(f, comp)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.WriteCPIO(w, cpio.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func runCmd(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	err := run(append([]string{"mkimage"}, args...), strings.NewReader(""), &out, &errb)
	code := cli.Report(&errb, "mkimage", err)
	return out.String(), errb.String(), code
}

func TestLsAndDiff(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.cpio.zst"), filepath.Join(dir, "b.cpio.lz4")
	writeImage(t, a, "zstd", map[string]string{"etc/hostname": "a\n", "init": "x"})
	writeImage(t, b, "lz4", map[string]string{"etc/hostname": "bb\n", "etc/motd": "hi"})
	out, _, code := runCmd("ls", a)
	if code != 0 || out != "/bin\n/bin/sh\n/etc\n/etc/hostname\n/init\n" {
		t.Errorf("ls: %d %q", code, out)
	}
	out, _, code = runCmd("ls", "-l", a)
	if code != 0 || !strings.Contains(out, "lrwxrwxrwx         12 /bin/sh -> ../bbin/gosh\n") || !strings.Contains(out, "-rw-r--r--          2 /etc/hostname\n") {
		t.Errorf("ls -l: %d %q", code, out)
	}
	out, _, code = runCmd("diff", a, b)
	if code != 1 || out != "~ /etc/hostname: size 2 -> 3\n+ /etc/motd\n- /init\n" {
		t.Errorf("diff: %d %q", code, out)
	}
	if out, _, code = runCmd("cat", a, "/etc/hostname", "bin/sh"); code != 0 || out != "a\n../bbin/gosh\n" {
		t.Errorf("cat: %d %q", code, out)
	}
	if _, errs, code := runCmd("cat", a, "/nope"); code != 1 || !strings.Contains(errs, "/nope: not in the image") {
		t.Errorf("cat missing: %d %q", code, errs)
	}
	if _, errs, code := runCmd("cat", a, "/etc"); code != 1 || !strings.Contains(errs, "/etc: not a regular file") {
		t.Errorf("cat dir: %d %q", code, errs)
	}
	if out, _, code = runCmd("diff", a, a); code != 0 || out != "" {
		t.Errorf("diff a a: %d %q", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ls"}, cli.ExitUsage, "ls takes one image file"},
		{[]string{"ls", "-x", a}, cli.ExitUsage, "flag provided but not defined"},
		{[]string{"ls", filepath.Join(dir, "none")}, cli.ExitSystem, "no such file"},
		{[]string{"ls", "/etc/hostname"}, cli.ExitSystem, "unknown format"},
		{[]string{"diff", a}, cli.ExitUsage, "diff takes two image files"},
		{[]string{"build", "a.yaml", "b.yaml"}, cli.ExitUsage, "one definition at a time"},
		{[]string{"build", "-c", "bzip2", "a.yaml"}, cli.ExitUsage, `-c: unknown compression "bzip2" (want one of none, gzip, xz, zstd, lz4)`},
		{[]string{"check", filepath.Join(dir, "missing.yaml")}, cli.ExitUsage, "definition: open"},
	} {
		_, errs, code := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if out, _, code := runCmd("help"); code != 0 || !strings.Contains(out, "usage:") {
		t.Errorf("help: %d %q", code, out)
	}
}

func TestCheckDefinitionErrors(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "bad.yaml")
	os.WriteFile(def, []byte("commands: [gosh]\nhostnme: x\n"), 0o644)
	_, errs, code := runCmd("check", def)
	if code != cli.ExitUsage || !strings.Contains(errs, `bad.yaml:2: unknown key "hostnme" (did you mean "hostname"?)`) {
		t.Errorf("exit %d, %q", code, errs)
	}
	os.WriteFile(def, []byte("commands: [gosh, lss]\n"), 0o644)
	_, errs, code = runCmd("check", def)
	if code != cli.ExitUsage || !strings.Contains(errs, `bad.yaml:1: commands: unknown command "lss"`) {
		t.Errorf("exit %d, %q", code, errs)
	}
	// check lays the image out: a path made twice is found before a build.
	os.WriteFile(def, []byte("commands: [gosh]\nfiles:\n  - {dst: /etc/hostname, content: x}\n"), 0o644)
	_, errs, code = runCmd("check", def)
	if code != cli.ExitUsage || !strings.Contains(errs, "/etc/hostname: added twice (from base and from "+def+":3)") {
		t.Errorf("exit %d, %q", code, errs)
	}
	os.WriteFile(def, []byte("commands: [gosh]\ninit: gosh\n"), 0o644)
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	_, errs, code = runCmd("build", def)
	if code != cli.ExitUsage || !strings.Contains(errs, "SOURCE_DATE_EPOCH") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

// TestOutputFromCwd: -o names a file from the current directory, not from
// the repository root; one that cannot be written fails before the build.
func TestOutputFromCwd(t *testing.T) {
	root, err := image.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "afile"), nil, 0o644)
	def := filepath.Join(dir, "o.yaml")
	os.WriteFile(def, []byte("commands: [gosh]\n"), 0o644)
	t.Chdir(dir)
	_, errs, code := runCmd("-C", root, "-o", "afile/img.cpio", def)
	want := "output: mkdir " + filepath.Join(dir, "afile") + ": not a directory"
	if code != cli.ExitSystem || !strings.Contains(errs, want) || strings.Contains(errs, "building") {
		t.Errorf("exit %d, stderr %q; want 111 and %q before building", code, errs, want)
	}
}

// TestInterrupt builds a real image and interrupts it during the busybox
// build, the way Ctrl-C does (SIGINT to the whole process group) and the
// way kill and timeout(1) do (SIGTERM to mkimage alone, which passes an
// interrupt on to the go command): mkimage exits 111 and leaves neither
// the output nor a temporary file.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping a busybox build")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mkimage")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	def := filepath.Join(dir, "i.yaml")
	os.WriteFile(def, []byte("commands: [gosh, true]\ncompression: xz\n"), 0o644)
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		group bool
	}{
		{"SIGINT to the process group", syscall.SIGINT, true},
		{"SIGTERM to mkimage", syscall.SIGTERM, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outDir := filepath.Join(t.TempDir(), "out")
			os.MkdirAll(outDir, 0o755)
			out := filepath.Join(outDir, "i.cpio.xz")
			cmd := exec.Command(bin, "-o", out, def)
			// An empty build cache: the busybox build takes far longer
			// than the wait before the signal, so it is interrupted.
			cmd.Env = append(os.Environ(), "GOCACHE="+t.TempDir())
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			var stderr bytes.Buffer
			pr, pw, _ := os.Pipe()
			cmd.Stderr = pw
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pw.Close()
			// Wait for the build phase, then interrupt.
			buf := make([]byte, 4096)
			for !strings.Contains(stderr.String(), "building the busybox") {
				n, err := pr.Read(buf)
				stderr.Write(buf[:n])
				if err != nil {
					t.Fatalf("mkimage ended before building: %s", stderr.String())
				}
			}
			time.Sleep(500 * time.Millisecond) // let go build start
			if tc.group {
				syscall.Kill(-cmd.Process.Pid, tc.sig)
			} else {
				syscall.Kill(cmd.Process.Pid, tc.sig)
			}
			go func() {
				for {
					n, err := pr.Read(buf)
					stderr.Write(buf[:n])
					if err != nil {
						return
					}
				}
			}()
			err := cmd.Wait()
			var ee *exec.ExitError
			if err == nil {
				t.Fatalf("mkimage exited 0: the build (with an empty build cache) finished before the interrupt\n%s", stderr.String())
			}
			if !errorsAs(err, &ee) || ee.ExitCode() != cli.ExitSystem {
				t.Errorf("exit: %v (want 111)", err)
			}
			ents, _ := os.ReadDir(outDir)
			if len(ents) != 0 {
				t.Errorf("out/ holds %v after the interrupt", ents)
			}
		})
	}
}

func errorsAs(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*ee = e
	}
	return ok
}

// TestReproducible builds the same definition twice with the command, this
// repository's commands included, from the definition spelt two ways, and
// compares the bytes; every entry's header carries SOURCE_DATE_EPOCH.
func TestReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: skipping two busybox builds")
	}
	root, err := image.FindRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	def := filepath.Join(root, "images", "minimal.yaml")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	var images [][]byte
	for i, spelt := range []string{def, "images/minimal.yaml"} {
		out := filepath.Join(dir, fmt.Sprintf("img%d.cpio", i))
		if _, errs, code := runCmd("-C", root, "-c", "none", "-o", out, spelt); code != 0 {
			t.Fatalf("build %d: exit %d\n%s", i, code, errs)
		}
		b, err := os.ReadFile(out)
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
	// newc headers: the mtime is the 8 hex digits at offset 46.
	b, want := images[0], fmt.Sprintf("%08x", 1700000000)
	n := 0
	for off := 0; off+110 <= len(b) && string(b[off:off+6]) == "070701"; n++ {
		size, _ := strconv.ParseUint(string(b[off+54:off+62]), 16, 32)
		namesize, _ := strconv.ParseUint(string(b[off+94:off+102]), 16, 32)
		if string(b[off+110:off+110+int(namesize)]) == "TRAILER!!!\x00" {
			break
		}
		if got := string(b[off+46 : off+54]); !strings.EqualFold(got, want) {
			t.Fatalf("header %d: mtime %s, want %s", n, got, want)
		}
		off = (off + 110 + int(namesize) + 3) &^ 3
		off = (off + int(size) + 3) &^ 3
	}
	if n < 50 {
		t.Errorf("walked %d headers only", n)
	}
}
