package ueventd

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/svinit/svinit/pkg/devrules"
	"github.com/svinit/svinit/pkg/uevent"
	"golang.org/x/sys/unix"
)

type recLoader struct {
	mu    sync.Mutex
	calls []string // "alias devpath"
}

func (r *recLoader) LoadAlias(alias, devpath string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, alias+" "+devpath)
	return nil
}

type recRun struct {
	mu   sync.Mutex
	runs []string
	envs [][]string
}

func (r *recRun) run(argv, env []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, strings.Join(argv, " "))
	r.envs = append(r.envs, env)
	return nil
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func rules(t *testing.T, src string) []devrules.Rule {
	t.Helper()
	r, errs := devrules.Parse(strings.NewReader(src), devrules.Options{})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	return r
}

func ev(t *testing.T, kv ...string) *uevent.Event {
	t.Helper()
	env := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		env[k] = v
	}
	e, err := uevent.New(env)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHandleNodeRulesSymlinks(t *testing.T) {
	dev := t.TempDir()
	writeFile(t, filepath.Join(dev, "sda"), "") // stands in for the devtmpfs node
	var log syncBuf
	rr := &recRun{}
	d := New(Config{DevRoot: dev, SysRoot: t.TempDir(), Log: &log, Run: rr.run, Rules: rules(t, `
SUBSYSTEM==block mode=0640 symlink=disk/by-name/$DEVNAME
DEVNAME==sda symlink=root-disk
ACTION==add SUBSYSTEM==block run=/bin/echo added $DEVNAME
ACTION==remove SUBSYSTEM==block run=/bin/echo removed $DEVNAME
DEVNAME==../etc/passwd mode=0666
`)})
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/x/block/sda", "SUBSYSTEM=block", "DEVNAME=sda", "MAJOR=8", "MINOR=0"))
	fi, err := os.Stat(filepath.Join(dev, "sda"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode = %v, %v", fi.Mode(), err)
	}
	for link, want := range map[string]string{"disk/by-name/sda": "../../sda", "root-disk": "sda"} {
		if got, err := os.Readlink(filepath.Join(dev, link)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %q", link, got, err, want)
		}
	}
	// A second add (e.g. coldplug and hotplug seeing the same device) is harmless.
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/x/block/sda", "SUBSYSTEM=block", "DEVNAME=sda", "MAJOR=8", "MINOR=0"))
	d.Handle(ev(t, "ACTION=remove", "DEVPATH=/devices/x/block/sda", "SUBSYSTEM=block", "DEVNAME=sda", "MAJOR=8", "MINOR=0"))
	d.WaitCommands()
	for _, link := range []string{"disk/by-name/sda", "root-disk"} {
		if _, err := os.Lstat(filepath.Join(dev, link)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after remove: %v", link, err)
		}
	}
	if want := []string{"/bin/echo added sda", "/bin/echo added sda", "/bin/echo removed sda"}; !slices.Equal(rr.runs, want) {
		t.Errorf("runs = %q, want %q (in order)", rr.runs, want)
	}
	if !slices.Contains(rr.envs[0], "DEVNAME=sda") || !slices.Contains(rr.envs[0], "ACTION=add") {
		t.Errorf("command env lacks the event: %q", rr.envs[0])
	}
	// The regular file is not a device node: remove leaves it.
	if _, err := os.Stat(filepath.Join(dev, "sda")); err != nil {
		t.Error(err)
	}
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/evil", "DEVNAME=../etc/passwd"))
	if !strings.Contains(log.String(), "not a clean name") {
		t.Errorf("log = %q", log.String())
	}
}

func TestSymlinkDoesNotClobberFiles(t *testing.T) {
	dev := t.TempDir()
	writeFile(t, filepath.Join(dev, "ttyS0"), "")
	writeFile(t, filepath.Join(dev, "console"), "precious")
	var log syncBuf
	d := New(Config{DevRoot: dev, Log: &log, Rules: rules(t, "DEVNAME==ttyS0 symlink=console")})
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/serial", "DEVNAME=ttyS0"))
	if b, _ := os.ReadFile(filepath.Join(dev, "console")); string(b) != "precious" {
		t.Fatal("symlink replaced a regular file")
	}
	if !strings.Contains(log.String(), "not a symlink is in the way") {
		t.Fatalf("log = %q", log.String())
	}
}

func TestMknodWhenMissing(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("mknod needs root: run the tests as root")
	}
	dev := t.TempDir()
	d := New(Config{DevRoot: dev, Rules: rules(t, "DEVNAME==null mode=0666\nDEVNAME==input/* mode=0640")})
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/virtual/mem/null", "SUBSYSTEM=mem", "DEVNAME=null", "MAJOR=1", "MINOR=3"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/x/input/input1/event1", "SUBSYSTEM=input", "DEVNAME=input/event1", "MAJOR=13", "MINOR=65", "DEVMODE=0644"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/x/block/vda", "SUBSYSTEM=block", "DEVNAME=vda", "MAJOR=254", "MINOR=0", "DEVMODE=0660"))
	check := func(name string, kind uint32, mode uint32, maj, min uint32) {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(dev, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&unix.S_IFMT != kind || st.Mode&0o7777 != mode || unix.Major(st.Rdev) != maj || unix.Minor(st.Rdev) != min {
			t.Errorf("%s: mode %o rdev %d:%d", name, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
	}
	check("null", unix.S_IFCHR, 0o666, 1, 3)
	check("input/event1", unix.S_IFCHR, 0o640, 13, 65)
	check("vda", unix.S_IFBLK, 0o660, 254, 0)
	d.Handle(ev(t, "ACTION=remove", "DEVPATH=/devices/x/block/vda", "SUBSYSTEM=block", "DEVNAME=vda", "MAJOR=254", "MINOR=0"))
	if _, err := os.Lstat(filepath.Join(dev, "vda")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node we made survived remove: %v", err)
	}
}

func TestFirmware(t *testing.T) {
	sys, fw1, fw2 := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(fw2, "vendor", "chip.bin"), "FIRMWARE-IMAGE")
	for _, n := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(sys, "devices/virtual/firmware", n, "loading"), "")
		writeFile(t, filepath.Join(sys, "devices/virtual/firmware", n, "data"), "")
	}
	var log syncBuf
	d := New(Config{SysRoot: sys, FirmwareDirs: []string{fw1, fw2}, Log: &log})
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/virtual/firmware/a", "SUBSYSTEM=firmware", "FIRMWARE=vendor/chip.bin"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/virtual/firmware/b", "SUBSYSTEM=firmware", "FIRMWARE=missing.bin"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/virtual/firmware/c", "SUBSYSTEM=firmware", "FIRMWARE=../../etc/shadow"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/virtual/firmware/gone", "SUBSYSTEM=firmware", "FIRMWARE=x.bin"))
	d.Wait()
	read := func(p string) string {
		b, _ := os.ReadFile(filepath.Join(sys, "devices/virtual/firmware", p))
		return string(b)
	}
	if read("a/data") != "FIRMWARE-IMAGE" || read("a/loading") != "0" {
		t.Errorf("a: data %q loading %q", read("a/data"), read("a/loading"))
	}
	if read("b/loading") != "-1" || read("c/loading") != "-1" {
		t.Errorf("b loading %q, c loading %q", read("b/loading"), read("c/loading"))
	}
	l := log.String()
	for _, want := range []string{
		"firmware vendor/chip.bin requested by /devices/virtual/firmware/a: loaded " + filepath.Join(fw2, "vendor/chip.bin") + " (14 bytes)",
		"firmware missing.bin requested by /devices/virtual/firmware/b: not found in " + filepath.Join(fw1, "missing.bin"),
		"refusing a name outside",
	} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
}

// fakeSource delivers queued events; Pending reports whether any are left.
type fakeSource struct {
	mu     sync.Mutex
	events []*uevent.Event
	errs   []error
	read   int
	block  chan struct{}
}

func (f *fakeSource) Pending(int) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.events) > 0 || len(f.errs) > 0, nil
}

func (f *fakeSource) Read() (*uevent.Event, error) {
	f.mu.Lock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		f.mu.Unlock()
		return nil, err
	}
	if len(f.events) == 0 {
		f.mu.Unlock()
		<-f.block
		return nil, errors.New("source closed")
	}
	e := f.events[0]
	f.events = f.events[1:]
	f.read++
	f.mu.Unlock()
	return e, nil
}

func TestServeOrder(t *testing.T) {
	sys := t.TempDir()
	writeFile(t, filepath.Join(sys, "devices/pci0000:00/0000:00:03.0/uevent"), "MODALIAS=pci:v00001AF4d00001000\n")
	writeFile(t, filepath.Join(sys, "devices/pci0000:00/0000:00:04.0/uevent"), "MODALIAS=pci:v00001AF4d00001001\n")
	ml := &recLoader{}
	var log syncBuf
	d := New(Config{SysRoot: sys, DevRoot: t.TempDir(), Modules: ml, Log: &log})
	src := &fakeSource{block: make(chan struct{}),
		events: []*uevent.Event{ev(t, "ACTION=add", "DEVPATH=/devices/pci0000:00/0000:00:03.0/virtio0", "MODALIAS=virtio:d00000001v00001AF4", "SEQNUM=5")},
		errs:   []error{uevent.ErrOverflow, fmt.Errorf("x: %w", uevent.ErrSkipped)},
	}
	var atReady []string
	done := make(chan error)
	go func() {
		done <- d.Serve(src, func() {
			ml.mu.Lock()
			atReady = slices.Clone(ml.calls)
			ml.mu.Unlock()
			close(src.block)
		})
	}()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "source closed") {
		t.Fatalf("Serve = %v", err)
	}
	slices.Sort(atReady)
	want := []string{
		"pci:v00001AF4d00001000 /devices/pci0000:00/0000:00:03.0",
		"pci:v00001AF4d00001000 /devices/pci0000:00/0000:00:03.0", // rescan after overflow
		"pci:v00001AF4d00001001 /devices/pci0000:00/0000:00:04.0",
		"pci:v00001AF4d00001001 /devices/pci0000:00/0000:00:04.0",
		"virtio:d00000001v00001AF4 /devices/pci0000:00/0000:00:03.0/virtio0",
	}
	if !slices.Equal(atReady, want) {
		t.Fatalf("module requests before readiness = %q, want %q", atReady, want)
	}
	if !strings.Contains(log.String(), "rescanning") {
		t.Errorf("log = %q", log.String())
	}
}

func TestExecReaps(t *testing.T) {
	var log syncBuf
	d := New(Config{Log: &log, Rules: rules(t, `ACTION==add run=/bin/sh -c "echo hello $DEVNAME; exit 3"`)})
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/x", "DEVNAME=foo"))
	d.WaitCommands()
	l := log.String()
	if !strings.Contains(l, "hello foo") || !strings.Contains(l, "run /bin/sh: exit status 3") {
		t.Fatalf("log = %q", l)
	}
}

// TestOwnerGroup: owner= and group= change the node's ids (root only).
func TestOwnerGroup(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("chown needs root: run the tests as root")
	}
	dev := t.TempDir()
	for _, n := range []string{"ttyS0", "sda", "kmsg"} {
		writeFile(t, filepath.Join(dev, n), "")
	}
	d := New(Config{DevRoot: dev, Rules: rules(t, `
SUBSYSTEM==tty owner=0 group=5
DEVNAME==sd? owner=1 group=6
DEVNAME==sda group=7
`)})
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/serial/ttyS0", "SUBSYSTEM=tty", "DEVNAME=ttyS0"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/x/block/sda", "SUBSYSTEM=block", "DEVNAME=sda"))
	d.Handle(ev(t, "ACTION=add", "DEVPATH=/devices/virtual/mem/kmsg", "SUBSYSTEM=mem", "DEVNAME=kmsg"))
	for name, want := range map[string][2]uint32{"ttyS0": {0, 5}, "sda": {1, 7}, "kmsg": {0, 0}} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dev, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, want[0], want[1])
		}
	}
}
