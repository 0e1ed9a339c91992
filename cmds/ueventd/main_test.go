package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/cli"
)

func TestMain(m *testing.M) {
	if os.Getenv("UEVENTD_TEST_MAIN") == "1" {
		cli.Main("ueventd", run)
	}
	os.Exit(m.Run())
}

func write(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixture: a fake sysfs with one virtio NIC, a module tree that has no
// module file for it, a /dev with its node, and a rules file with one bad
// line.
func fixture(t *testing.T) (sys, dev, mods, rules string) {
	root := t.TempDir()
	sys, dev, mods, rules = filepath.Join(root, "sys"), filepath.Join(root, "dev"), filepath.Join(root, "mods"), filepath.Join(root, "ueventd.rules")
	write(t, filepath.Join(sys, "devices/pci0000:00/0000:00:03.0/virtio0/uevent"), "DRIVER=\nMODALIAS=virtio:d00000001v00001AF4\n")
	write(t, filepath.Join(sys, "devices/virtual/tty/ttyS0/uevent"), "MAJOR=4\nMINOR=64\nDEVNAME=ttyS0\n")
	write(t, filepath.Join(dev, "ttyS0"), "")
	write(t, filepath.Join(mods, "modules.alias"), "alias virtio:d00000001v* virtio_net\n")
	write(t, filepath.Join(mods, "modules.dep"), "kernel/drivers/net/virtio_net.ko:\n")
	write(t, rules, "DEVNAME==ttyS* mode=0620 symlink=serial0\nthis line is broken\n")
	return
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"ueventd", "-x"}, {"ueventd", "-d"}, {"ueventd", "-d", "x"}, {"ueventd", "extra"}, {"ueventd", "-b", "0"}} {
		if err := run(args, nil, &bytes.Buffer{}, &bytes.Buffer{}); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: err = %v", args, err)
		}
	}
	if err := run([]string{"ueventd", "-o", "-d", "97"}, nil, &bytes.Buffer{}, &bytes.Buffer{}); cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "not open") {
		t.Errorf("closed notification fd: %v", err)
	}
}

func TestOnce(t *testing.T) {
	sys, dev, mods, rules := fixture(t)
	var out bytes.Buffer
	err := run([]string{"ueventd", "-o", "-s", sys, "-D", dev, "-m", mods, "-r", rules}, nil, &out, &out)
	if err != nil {
		t.Fatal(err, out.String())
	}
	fi, err := os.Stat(filepath.Join(dev, "ttyS0"))
	if err != nil || fi.Mode().Perm() != 0o620 {
		t.Errorf("ttyS0 mode = %v (%v)", fi.Mode(), err)
	}
	if l, _ := os.Readlink(filepath.Join(dev, "serial0")); l != "ttyS0" {
		t.Errorf("serial0 -> %q", l)
	}
	for _, want := range []string{
		"ueventd: " + rules + ": line 2: ",
		"ueventd: cannot load virtio_net (for virtio:d00000001v00001AF4 on /devices/pci0000:00/0000:00:03.0/virtio0): module file " + filepath.Join(mods, "kernel/drivers/net/virtio_net.ko") + " is missing",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestNoModuleIndex(t *testing.T) {
	sys, dev, _, rules := fixture(t)
	var out bytes.Buffer
	if err := run([]string{"ueventd", "-o", "-s", sys, "-D", dev, "-m", t.TempDir(), "-r", rules}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no module index") {
		t.Errorf("output: %s", out.String())
	}
}

// TestReadiness runs the daemon as a process with -d 3: readiness comes
// after the coldplug (the symlink exists by then), then it keeps running.
func TestReadiness(t *testing.T) {
	sys, dev, mods, rules := fixture(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-d", "3", "-s", sys, "-D", dev, "-m", mods, "-r", rules)
	cmd.Env = append(os.Environ(), "UEVENTD_TEST_MAIN=1")
	cmd.ExtraFiles = []*os.File{w}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil || line != "\n" {
		cmd.Process.Kill()
		<-exited
		t.Fatalf("readiness: %q, %v; output:\n%s", line, err, out.String())
	}
	if l, _ := os.Readlink(filepath.Join(dev, "serial0")); l != "ttyS0" {
		t.Errorf("ready before coldplug finished: serial0 -> %q", l)
	}
	// The fd is closed after the newline.
	if n, err := r.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("notification fd not closed: %d %v", n, err)
	}
	select {
	case err := <-exited:
		t.Fatalf("ueventd exited after readiness: %v\n%s", err, out.String())
	case <-time.After(100 * time.Millisecond):
	}
	cmd.Process.Kill()
	<-exited
}

// TestHotplug runs the daemon, then makes the kernel send a "change"
// event for /dev/null's device; a rule's command records it. Needs root
// and kernel uevents in this network namespace.
func TestHotplug(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("needs root to write to /sys/devices/virtual/mem/null/uevent: run the tests as root")
	}
	sys, dev, _, _ := fixture(t)
	dir := t.TempDir()
	mark := filepath.Join(dir, "mark")
	rules := filepath.Join(dir, "rules")
	write(t, rules, `DEVPATH==/devices/virtual/mem/null ACTION==change run=/bin/sh -c "echo $ACTION $DEVNAME $SUBSYSTEM > `+mark+`"`+"\n")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-M", "-d", "3", "-s", sys, "-D", dev, "-r", rules)
	cmd.Env = append(os.Environ(), "UEVENTD_TEST_MAIN=1")
	cmd.ExtraFiles = []*os.File{w}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(r).ReadString('\n'); line != "\n" {
		t.Fatalf("readiness: %q %v", line, err)
	}
	if err := os.WriteFile("/sys/devices/virtual/mem/null/uevent", []byte("change"), 0); err != nil {
		t.Fatal("cannot trigger a kernel event (needs a writable /sys, as root):", err)
	}
	var b []byte
	if testutil.Poll(30*time.Second, func() bool { b, _ = os.ReadFile(mark); return len(b) > 0 }) {
		if string(b) != "change null mem\n" {
			t.Fatalf("command saw %q", b)
		}
		return
	}
	t.Fatal("no kernel event arrived (the kernel broadcasts uevents only in the initial network namespace: run the tests there); output:\n" + out.String())
}

// TestReloadOnHUP: SIGHUP (svc -h) re-reads the rules file and reports
// its bad lines with their numbers.
func TestReloadOnHUP(t *testing.T) {
	sys, dev, mods, rules := fixture(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	or, ow, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer or.Close()
	cmd := exec.Command(os.Args[0], "-M", "-d", "3", "-s", sys, "-D", dev, "-m", mods, "-r", rules)
	cmd.Env = append(os.Environ(), "UEVENTD_TEST_MAIN=1")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = ow, ow
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	ow.Close()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	if line, err := bufio.NewReader(r).ReadString('\n'); line != "\n" {
		t.Fatalf("readiness: %q %v", line, err)
	}
	write(t, rules, "# new rules\nDEVNAME==ttyS0 chmod=0600\nDEVNAME==ttyS* mode=0640\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewScanner(or)
	var got []string
	for out.Scan() {
		got = append(got, out.Text())
		if strings.Contains(out.Text(), "reloaded "+rules) {
			break
		}
	}
	joined := strings.Join(got, "\n")
	want := "ueventd: " + rules + `: line 2: unknown action "chmod"`
	if !strings.Contains(joined, want) || !strings.Contains(joined, "reloaded "+rules) {
		t.Fatalf("output after SIGHUP lacks %q or the reload line:\n%s", want, joined)
	}
}
