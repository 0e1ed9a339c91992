package coldplug

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/uevent"
)

type dev struct {
	path      string // under devices/
	uevent    string
	subsystem string // "" for none
}

func fakeSys(t *testing.T, devs []dev) string {
	t.Helper()
	sys := t.TempDir()
	for _, d := range devs {
		dir := filepath.Join(sys, "devices", d.path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte(d.uevent), 0o644); err != nil {
			t.Fatal(err)
		}
		if d.subsystem != "" {
			bus := filepath.Join(sys, "bus", d.subsystem)
			os.MkdirAll(bus, 0o755)
			if err := os.Symlink(bus, filepath.Join(dir, "subsystem")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return sys
}

func TestWalk(t *testing.T) {
	sys := fakeSys(t, []dev{
		{"pci0000:00/0000:00:03.0", "DRIVER=\nPCI_CLASS=20000\nMODALIAS=pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00\n", "pci"},
		{"pci0000:00/0000:00:03.0/virtio0", "MODALIAS=virtio:d00000001v00001AF4\n", "virtio"},
		{"virtual/mem/null", "MAJOR=1\nMINOR=3\nDEVNAME=null\nDEVMODE=0666\n", "mem"},
		{"platform/broken", "this is not key=value\nnope\n", "platform"},
		{"system/cpu", "", ""},
	})
	// A symlink loop back to the root must not be followed.
	os.Symlink(filepath.Join(sys, "devices"), filepath.Join(sys, "devices", "pci0000:00", "loop"))
	// A uevent that is a symlink is not a device.
	os.Symlink(filepath.Join(sys, "devices", "virtual", "mem", "null", "uevent"), filepath.Join(sys, "devices", "system", "uevent_link"))

	var got []*uevent.Event
	skipped, err := Walk(sys, func(ev *uevent.Event) error {
		got = append(got, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "platform/broken/uevent") {
		t.Fatalf("skipped = %v", skipped)
	}
	var paths []string
	for _, ev := range got {
		paths = append(paths, ev.DevPath)
		if ev.Action != "add" || ev.Env["ACTION"] != "add" {
			t.Errorf("%s: action %q", ev.DevPath, ev.Action)
		}
	}
	want := []string{"/devices/pci0000:00/0000:00:03.0", "/devices/pci0000:00/0000:00:03.0/virtio0", "/devices/system/cpu", "/devices/virtual/mem/null"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths = %v, want %v", paths, want)
	}
	if got[0].Subsystem != "pci" || got[0].Env["MODALIAS"] != "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00" || got[0].Env["DRIVER"] != "" {
		t.Errorf("pci event = %+v", got[0])
	}
	if got[2].Subsystem != "" {
		t.Errorf("cpu subsystem = %q", got[2].Subsystem)
	}
	if got[3].Env["DEVNAME"] != "null" || got[3].Subsystem != "mem" {
		t.Errorf("null event = %+v", got[3])
	}
}

func TestWalkStopsOnError(t *testing.T) {
	sys := fakeSys(t, []dev{{"a", "X=1\n", ""}, {"b", "X=2\n", ""}})
	stop := errors.New("stop")
	n := 0
	_, err := Walk(sys, func(*uevent.Event) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err = %v, n = %d", err, n)
	}
}

func TestWalkNoSys(t *testing.T) {
	if _, err := Walk(t.TempDir(), func(*uevent.Event) error { return nil }); err == nil {
		t.Fatal("want an error for a sysfs root without devices/")
	}
}

func TestTrigger(t *testing.T) {
	sys := fakeSys(t, []dev{{"a", "X=1\n", ""}, {"a/b", "X=2\n", ""}})
	if errs := Trigger(sys); len(errs) != 0 {
		t.Fatal(errs)
	}
	b, _ := os.ReadFile(filepath.Join(sys, "devices", "a", "b", "uevent"))
	if string(b) != "add" {
		t.Fatalf("uevent = %q", b)
	}
}

// TestModaliasFile: a device whose uevent file has no MODALIAS gets the
// one of its "modalias" file; the uevent file's wins when both exist.
func TestModaliasFile(t *testing.T) {
	sys := fakeSys(t, []dev{
		{"system/cpu", "", ""},
		{"system/cpu/cpu0", "DRIVER=processor\nMODALIAS=cpu:type:x86,ven0000fam0006mod003F:feature:,0000\n", "cpu"},
		{"platform/serial8250", "DRIVER=serial8250\n", "platform"},
	})
	os.WriteFile(filepath.Join(sys, "devices/system/cpu/modalias"), []byte("cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0001\n"), 0o444)
	os.WriteFile(filepath.Join(sys, "devices/system/cpu/cpu0/modalias"), []byte("ignored\n"), 0o444)
	os.WriteFile(filepath.Join(sys, "devices/platform/serial8250/modalias"), []byte("\n"), 0o444)
	got := map[string]string{}
	if _, err := Walk(sys, func(ev *uevent.Event) error {
		if m, ok := ev.Env["MODALIAS"]; ok {
			got[ev.DevPath] = m
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/devices/system/cpu":      "cpu:type:x86,ven0000fam0006mod003F:feature:,0000,0001",
		"/devices/system/cpu/cpu0": "cpu:type:x86,ven0000fam0006mod003F:feature:,0000",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("MODALIAS by device = %v, want %v", got, want)
	}
}
