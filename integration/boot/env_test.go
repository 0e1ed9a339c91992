// Package boot boots real svinit images in QEMU (through
// github.com/hugelgupf/vmtest) and checks, from the serial console, what
// the system does: services up, every process supervised, scan-to-up
// without polling, faults survived, modules loaded by the device manager,
// orderly poweroff and reboot, kexec into a second image, the minimal
// image, and the boot time next to u-root's stock init. See
// docs/testing.md.
package boot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/image"
	"github.com/svinit/svinit/pkg/image/build"
	"github.com/svinit/svinit/pkg/image/compress"
)

// env is what every boot needs, found once.
type env struct {
	root    string // repository root
	qemu    string // qemu-system-x86_64 path
	accel   string // tcg, or kvm when a probe shows it works
	kernel  string // vmlinuz
	modules string // kernel modules source for mkimage ("" = the definition's)
	work    string // images are built here
	err     error  // why boot tests cannot run
}

var (
	theEnv   env
	envOnce  sync.Once
	workDir  string     // set by TestMain
	buildMu  sync.Mutex // one image build at a time (2 cores)
	imagesMu sync.Mutex
	images   = map[string]*builtImage{}
)

type builtImage struct {
	once sync.Once
	path string
	err  error
	dur  time.Duration
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "svinit-boot-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "boot tests:", err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	if os.Getenv("BOOTTEST_KEEP") == "" {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "boot tests: images kept in", dir)
	}
	os.Exit(code)
}

// needEnv returns the boot environment or fails the test saying what is
// missing (QEMU: make test installs qemu-system-x86 as root).
func needEnv(t *testing.T) *env {
	t.Helper()
	envOnce.Do(func() { theEnv = findEnv() })
	e := &theEnv
	if e.err != nil {
		t.Fatalf("boot tests cannot run: %v", e.err)
	}
	return e
}

func findEnv() env {
	e := env{work: workDir}
	wd, err := os.Getwd()
	if err != nil {
		e.err = err
		return e
	}
	if e.root, err = image.FindRoot(wd); err != nil {
		e.err = err
		return e
	}
	qemu := "qemu-system-x86_64"
	if q := os.Getenv("VMTEST_QEMU"); q != "" {
		qemu = strings.Fields(q)[0]
	}
	if e.qemu, err = exec.LookPath(qemu); err != nil {
		e.err = fmt.Errorf("%s not found (apt-get install qemu-system-x86): %v", qemu, err)
		return e
	}
	e.kernel = os.Getenv("VMTEST_KERNEL")
	e.modules = os.Getenv("SVINIT_KERNEL_MODULES")
	if e.kernel == "" {
		// scripts/kernel.sh fetches the Debian kernel once and caches it
		// (.cache/kernel); later runs only print the path.
		out, err := runOut(e.root, filepath.Join(e.root, "scripts", "kernel.sh"), "-q")
		if err != nil {
			e.err = fmt.Errorf("scripts/kernel.sh -q (set VMTEST_KERNEL to use another kernel): %v", err)
			return e
		}
		e.kernel = strings.TrimSpace(out)
		if e.modules == "" {
			out, err := runOut(e.root, filepath.Join(e.root, "scripts", "kernel.sh"), "-q", "-m")
			if err != nil {
				e.err = fmt.Errorf("scripts/kernel.sh -q -m: %v", err)
				return e
			}
			e.modules = strings.TrimSpace(out)
		}
	}
	if _, err := os.Stat(e.kernel); err != nil {
		e.err = fmt.Errorf("kernel: %v", err)
		return e
	}
	e.accel = probeAccel(e.qemu, e.kernel)
	return e
}

// probeAccel uses KVM only when a guest really runs under it: the kernel,
// booted under KVM with no initramfs, must reach its panic (no root) and
// QEMU exit by itself (-no-reboot, panic=-1) within a few seconds. A
// /dev/kvm that opens, and even a paused KVM guest, are not enough: on
// some hosts a KVM guest starts but never gets past the kernel's first
// lines, and every boot test would then wait for its timeout.
func probeAccel(qemu, kernel string) string {
	switch a := os.Getenv("BOOTTEST_ACCEL"); a {
	case "tcg", "kvm":
		return a
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-accel", "kvm", "-cpu", "host", "-m", "256",
		"-display", "none", "-monitor", "none", "-serial", "none", "-no-reboot",
		"-kernel", kernel, "-append", "panic=-1 quiet")
	if err := cmd.Run(); err == nil && ctx.Err() == nil {
		return "kvm"
	}
	return "tcg"
}

func runOut(dir, prog string, args ...string) (string, error) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdin = nil
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// imageSpec describes a test image: a definition file (relative to the
// repository root) and changes made to it in Go.
type imageSpec struct {
	name        string // key, and the output file's base name
	def         string // definition, relative to the repository root
	compression string // overrides the definition's
	// edit adjusts the parsed definition (e.g. files only known at run time).
	edit func(t *testing.T, e *env, d *image.Definition) error
}

// buildImage builds an image once per test binary run and returns its
// path; every test asking for the same name shares it.
func buildImage(t *testing.T, e *env, s imageSpec) string {
	t.Helper()
	imagesMu.Lock()
	b := images[s.name]
	if b == nil {
		b = &builtImage{}
		images[s.name] = b
	}
	imagesMu.Unlock()
	b.once.Do(func() {
		start := time.Now()
		b.path, b.err = doBuild(t, e, s)
		b.dur = time.Since(start)
		if b.err == nil {
			t.Logf("image %s built in %.1fs: %s", s.name, b.dur.Seconds(), b.path)
		}
	})
	if b.err != nil {
		t.Fatalf("image %s: %v", s.name, b.err)
	}
	return b.path
}

func doBuild(t *testing.T, e *env, s imageSpec) (string, error) {
	data, err := os.ReadFile(filepath.Join(e.root, s.def))
	if err != nil {
		return "", err
	}
	d, err := image.ParseDefinition(data, s.def)
	if err != nil {
		return "", err
	}
	if s.edit != nil {
		if err := s.edit(t, e, d); err != nil {
			return "", err
		}
	}
	comp := s.compression
	if comp == "" {
		comp = "gzip"
	}
	out := filepath.Join(e.work, s.name+".cpio"+compress.Suffix(comp))
	buildMu.Lock()
	defer buildMu.Unlock()
	var progress bytes.Buffer
	kernel := ""
	if e.modules != "" && d.Kernel.Value != "" {
		kernel = e.modules
	}
	_, err = build.Image(context.Background(), d, build.Options{
		Root:        e.root,
		Output:      out,
		Compression: comp,
		Kernel:      kernel,
		Progress:    &progress,
	})
	if err != nil {
		return "", fmt.Errorf("%v\n%s", err, progress.String())
	}
	return out, nil
}

// logWriter sends lines to t.Log.
type logWriter struct {
	t      *testing.T
	prefix string
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.prefix + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
