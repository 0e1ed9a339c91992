package shutdown

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/cli"
)

// TestRebootKexec: reboot -k refuses before anything else when no
// kernel is loaded, and otherwise starts svinit-shutdown kexec instead
// of signalling process 1; -fk calls reboot(2) with the kexec command.
func TestRebootKexec(t *testing.T) {
	running, _ := fakeScandir(t)
	stopped := t.TempDir() // a control FIFO nobody reads
	os.MkdirAll(filepath.Join(stopped, ".s6-svscan"), 0o755)
	if err := unix.Mkfifo(filepath.Join(stopped, ".s6-svscan", "control"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		prog      string
		args      []string
		loaded    string // kexec_loaded's content; "" for no file
		scandir   string
		want      []string
		wantCode  int
		wantInErr string
	}{
		{name: "loaded", args: []string{"-k"}, loaded: "1\n", scandir: running,
			want: []string{"start /bin/svinit-shutdown kexec"}},
		{name: "loaded, later", args: []string{"-k", "+3"}, loaded: "1\n", scandir: running,
			want: []string{"sleep 3m0s", "start /bin/svinit-shutdown kexec"}},
		{name: "nothing loaded", args: []string{"-k"}, loaded: "0\n", scandir: running,
			wantCode: 111, wantInErr: "-k: no kernel is loaded for kexec"},
		{name: "nothing loaded, later: refused now", args: []string{"-k", "+3"}, loaded: "0\n", scandir: running,
			wantCode: 111, wantInErr: "nothing was stopped"},
		{name: "no kexec in the kernel", args: []string{"-k"}, scandir: running,
			wantCode: 111, wantInErr: "CONFIG_KEXEC_FILE"},
		{name: "svscan not running", args: []string{"-k"}, loaded: "1\n", scandir: stopped,
			wantCode: cli.ExitNotSupervised, wantInErr: "svscan is not running"},
		{name: "forced", args: []string{"-fk"}, loaded: "1\n", scandir: stopped,
			want: []string{"sync", "reboot 0x45584543"}, wantCode: 111, wantInErr: "reboot(2) for kexec"},
		{name: "forced, nothing loaded", args: []string{"-fk"}, loaded: "0\n", scandir: stopped,
			wantCode: 111, wantInErr: "no kernel is loaded"},
		{name: "poweroff has no -k", prog: "poweroff", args: []string{"-k"}, loaded: "1\n", scandir: running,
			wantCode: cli.ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loaded := filepath.Join(t.TempDir(), "kexec_loaded")
			if tc.loaded != "" {
				os.WriteFile(loaded, []byte(tc.loaded), 0o644)
			}
			var r reqRec
			sys := r.sys(nil, errors.New("no reboot in tests"))
			sys.Kexec = KexecSys{LoadedFile: loaded, Scandir: tc.scandir, Start: func(argv []string) error {
				r.calls = append(r.calls, "start "+strings.Join(argv, " "))
				return nil
			}}
			a, prog := Reboot, "reboot"
			if tc.prog == "poweroff" {
				a, prog = Poweroff, "poweroff"
			}
			var stderr bytes.Buffer
			err := Command(a, append([]string{prog}, tc.args...), &stderr, sys)
			if cli.Code(err) != tc.wantCode || tc.wantInErr != "" && !strings.Contains(fmt.Sprint(err), tc.wantInErr) {
				t.Errorf("error %v (code %d), want code %d containing %q", err, cli.Code(err), tc.wantCode, tc.wantInErr)
			}
			if !reflect.DeepEqual(r.calls, tc.want) {
				t.Errorf("calls %q, want %q", r.calls, tc.want)
			}
		})
	}
}

// TestRequestKexecStartFails: a failed start is reported.
func TestRequestKexecStartFails(t *testing.T) {
	running, _ := fakeScandir(t)
	loaded := filepath.Join(t.TempDir(), "kexec_loaded")
	os.WriteFile(loaded, []byte("1\n"), 0o644)
	s := KexecSys{LoadedFile: loaded, Scandir: running, Start: func([]string) error { return unix.ENOENT }}
	if err := s.Request(); cli.Code(err) != cli.ExitSystem || !strings.Contains(err.Error(), "start /bin/svinit-shutdown") {
		t.Fatalf("Request = %v", err)
	}
}

// TestHookKexec: svinit-shutdown kexec records the action and asks
// svscan to stop, as for a reboot.
func TestHookKexec(t *testing.T) {
	scandir, ctl := fakeScandir(t)
	tmp := t.TempDir()
	var out bytes.Buffer
	h := &Hook{Action: Kexec, Record: filepath.Join(tmp, "run/svinit/shutdown"), Hook: filepath.Join(tmp, "none"),
		Scandir: scandir, Stdout: &out, Now: time.Now}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if got := readControl(t, ctl); got != "t" {
		t.Fatalf("control got %q, want t", got)
	}
	if r, err := ReadRecord(h.Record); err != nil || r.Action != Kexec {
		t.Fatalf("record %+v %v", r, err)
	}
	if !strings.Contains(out.String(), "svinit-shutdown: kexec requested") {
		t.Fatalf("output %q", out.String())
	}
}

// TestLoadErrors: Load names what it could not load. A file that is no
// kernel is refused by kexec_file_load (or the call is missing or not
// allowed here): it never loads.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Load(filepath.Join(dir, "vmlinuz"), "", ""); err == nil || !strings.Contains(err.Error(), "kexec: kernel:") {
		t.Errorf("missing kernel: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, bytes.Repeat([]byte("not a kernel "), 100), 0o644)
	if err := Load(junk, filepath.Join(dir, "initrd"), ""); err == nil || !strings.Contains(err.Error(), "kexec: initrd:") {
		t.Errorf("missing initrd: %v", err)
	}
	if err := Load(junk, junk, "console=ttyS0"); err == nil || !strings.Contains(err.Error(), "kexec_file_load "+junk) {
		t.Errorf("junk kernel: %v", err)
	}
}
