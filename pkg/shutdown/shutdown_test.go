package shutdown

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"golang.org/x/sys/unix"
)

func TestActions(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    Action
		sig  unix.Signal
		cmd  int
	}{
		{"poweroff", Poweroff, unix.SIGUSR1, unix.LINUX_REBOOT_CMD_POWER_OFF},
		{"reboot", Reboot, unix.SIGINT, unix.LINUX_REBOOT_CMD_RESTART},
		{"halt", Halt, unix.SIGUSR2, unix.LINUX_REBOOT_CMD_HALT},
		{"kexec", Kexec, 0, unix.LINUX_REBOOT_CMD_KEXEC},
	} {
		a, err := ParseAction(tc.name)
		if err != nil || a != tc.a || a.String() != tc.name || a.Signal() != tc.sig || a.RebootCmd() != tc.cmd {
			t.Errorf("%s: %v %v %v %v %#x", tc.name, a, err, a.String(), a.Signal(), a.RebootCmd())
		}
	}
	if _, err := ParseAction("explode"); err == nil {
		t.Error("ParseAction accepted explode")
	}
}

func TestRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "svinit", "shutdown")
	if r, err := ReadRecord(p); err != nil || r.Action != None {
		t.Fatalf("missing record: %+v %v", r, err)
	}
	now := time.Unix(1700000000, 123456789)
	if err := WriteRecord(p, Record{Halt, now}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if !strings.HasPrefix(string(b), "halt\n@4000") || !strings.HasSuffix(string(b), "\n") {
		t.Fatalf("record %q", b)
	}
	r, err := ReadRecord(p)
	if err != nil || r.Action != Halt || !r.Since.Equal(now) {
		t.Fatalf("read back %+v %v", r, err)
	}
	os.WriteFile(p, []byte("poweroff\n"), 0o644)
	if r, err := ReadRecord(p); err != nil || r.Action != Poweroff || !r.Since.IsZero() {
		t.Fatalf("bare record: %+v %v", r, err)
	}
	os.WriteFile(p, []byte("sideways\n"), 0o644)
	if _, err := ReadRecord(p); err == nil {
		t.Fatal("bad record accepted")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".shutdown.tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left: %q", left)
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"", "reboot\n", "halt\n@400000006553f1000000000a\n", "poweroff\r\n@\n", "\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err == nil {
			if r.Action == None {
				t.Fatal("None accepted")
			}
			r2, err := ParseRecord(r.Marshal())
			if err != nil || r2.Action != r.Action {
				t.Fatalf("round trip: %+v %v", r2, err)
			}
		}
	})
}

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want Options
		bad  bool
	}{
		{nil, Options{}, false},
		{[]string{"-f"}, Options{Force: true}, false},
		{[]string{"-fn"}, Options{Force: true, NoSync: true}, false},
		{[]string{"-n", "-f", "now"}, Options{Force: true, NoSync: true}, false},
		{[]string{"+5"}, Options{Delay: 5 * time.Minute}, false},
		{[]string{"--", "+0"}, Options{}, false},
		{[]string{"-x"}, Options{}, true},
		{[]string{"later"}, Options{}, true},
		{[]string{"+-1"}, Options{}, true},
		{[]string{"+1", "+2"}, Options{}, true},
	} {
		got, err := ParseOptions("poweroff", tc.args)
		if tc.bad {
			if cli.Code(err) != cli.ExitUsage {
				t.Errorf("%q: %v, want a usage error", tc.args, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.args, got, err, tc.want)
		}
	}
}

type reqRec struct{ calls []string }

func (r *reqRec) sys(killErr, rebootErr error) RequestSys {
	return RequestSys{
		PID: 4242,
		Kill: func(pid int, sig unix.Signal) error {
			r.calls = append(r.calls, fmt.Sprintf("kill %d %s", pid, unix.SignalName(sig)))
			return killErr
		},
		Sync:   func() { r.calls = append(r.calls, "sync") },
		Reboot: func(cmd int) error { r.calls = append(r.calls, fmt.Sprintf("reboot %#x", cmd)); return rebootErr },
		Sleep:  func(d time.Duration) { r.calls = append(r.calls, "sleep "+d.String()) },
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		a         Action
		args      []string
		killErr   error
		want      []string
		wantCode  int
		wantInErr string
	}{
		{a: Poweroff, args: []string{"poweroff"}, want: []string{"kill 4242 SIGUSR1"}},
		{a: Reboot, args: []string{"reboot"}, want: []string{"kill 4242 SIGINT"}},
		{a: Halt, args: []string{"halt"}, want: []string{"kill 4242 SIGUSR2"}},
		{a: Halt, args: []string{"halt", "+2"}, want: []string{"sleep 2m0s", "kill 4242 SIGUSR2"}},
		{a: Poweroff, args: []string{"poweroff", "-f"}, want: []string{"sync", "reboot 0x4321fedc"}, wantCode: 111, wantInErr: "reboot(2) for poweroff"},
		{a: Reboot, args: []string{"reboot", "-fn"}, want: []string{"reboot 0x1234567"}, wantCode: 111},
		{a: Reboot, args: []string{"reboot"}, killErr: unix.EPERM, want: []string{"kill 4242 SIGINT"}, wantCode: 111, wantInErr: "send SIGINT to process 4242: operation not permitted (run it as root)"},
		{a: Reboot, args: []string{"reboot", "-q"}, wantCode: 100},
	} {
		var r reqRec
		var stderr bytes.Buffer
		err := Command(tc.a, tc.args, &stderr, r.sys(tc.killErr, errors.New("no reboot in tests")))
		if cli.Code(err) != tc.wantCode || tc.wantInErr != "" && !strings.Contains(fmt.Sprint(err), tc.wantInErr) {
			t.Errorf("%q: error %v (code %d), want code %d containing %q", tc.args, err, cli.Code(err), tc.wantCode, tc.wantInErr)
		}
		if !reflect.DeepEqual(r.calls, tc.want) {
			t.Errorf("%q: calls %q, want %q", tc.args, r.calls, tc.want)
		}
	}
}

// fakeScandir makes DIR/.s6-svscan/control and opens it for reading, as
// svscan would.
func fakeScandir(t *testing.T) (string, *os.File) {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, ".s6-svscan"), 0o755)
	ctl := filepath.Join(dir, ".s6-svscan", "control")
	if err := unix.Mkfifo(ctl, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(ctl, unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), ctl)
	t.Cleanup(func() { f.Close() })
	return dir, f
}

func readControl(t *testing.T, f *os.File) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := unix.Read(int(f.Fd()), buf)
	if err != nil && err != unix.EAGAIN {
		t.Fatal(err)
	}
	if n < 0 {
		n = 0
	}
	return string(buf[:n])
}

func TestHook(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("no /bin/sh for the fake shutdown hook: %v (apt-get install dash)", err)
	}
	scandir, ctl := fakeScandir(t)
	tmp := t.TempDir()
	hookOut := filepath.Join(tmp, "hook-ran")
	hook := filepath.Join(tmp, "shutdown")
	os.WriteFile(hook, []byte("#!/bin/sh\necho \"$1\" >> "+hookOut+"\necho hook says hi\n"), 0o755)
	var out bytes.Buffer
	now := time.Unix(1700000000, 0)
	h := &Hook{Action: Poweroff, Record: filepath.Join(tmp, "run/svinit/shutdown"), Hook: hook,
		Scandir: scandir, Timeout: time.Minute, Stdout: &out, Now: func() time.Time { return now }}
	if err := h.Run(); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if got := readControl(t, ctl); got != "t" {
		t.Fatalf("control got %q, want t", got)
	}
	r, err := ReadRecord(h.Record)
	if err != nil || r.Action != Poweroff || !r.Since.Equal(now) {
		t.Fatalf("record %+v %v", r, err)
	}
	if b, _ := os.ReadFile(hookOut); string(b) != "poweroff\n" {
		t.Fatalf("hook ran with %q", b)
	}
	if !strings.Contains(out.String(), "hook says hi") {
		t.Fatalf("hook output not passed on: %q", out.String())
	}

	// A second request changes the action, keeps the start time, does
	// not run the hook again, and asks svscan again; then, svscan being
	// stuck, it asks for the finish script at once.
	h2 := *h
	var slept time.Duration
	detached := false
	h2.AbortAfter = 7 * time.Second
	h2.Detach = func() { detached = true }
	h2.Sleep = func(d time.Duration) { slept = d }
	h2.Action = Reboot
	h2.Now = func() time.Time { return now.Add(time.Minute) }
	if err := h2.Run(); err != nil {
		t.Fatal(err)
	}
	if got := readControl(t, ctl); got != "tb" || slept != 7*time.Second || !detached {
		t.Fatalf("second control got %q (slept %v, detached %v), want tb after 7s detached", got, slept, detached)
	}
	r, _ = ReadRecord(h.Record)
	if r.Action != Reboot || !r.Since.Equal(now) {
		t.Fatalf("second record %+v", r)
	}
	if b, _ := os.ReadFile(hookOut); string(b) != "poweroff\n" {
		t.Fatalf("hook ran again: %q", b)
	}
}

func TestHookTimeoutAndMissing(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("no /bin/sh for the fake shutdown hook: %v (apt-get install dash)", err)
	}
	scandir, ctl := fakeScandir(t)
	tmp := t.TempDir()
	hook := filepath.Join(tmp, "shutdown")
	// The hook's child holds stdout too: the group kill must get it.
	os.WriteFile(hook, []byte("#!/bin/sh\nsleep 1000 &\nsleep 1000\n"), 0o755)
	var out bytes.Buffer
	h := &Hook{Action: Halt, Record: filepath.Join(tmp, "rec"), Hook: hook, Scandir: scandir,
		Timeout: 100 * time.Millisecond, Stdout: &out, Now: time.Now}
	if err := h.Run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "still running after 100ms; killed") {
		t.Fatalf("output %q", out.String())
	}
	if readControl(t, ctl) != "t" {
		t.Fatal("no t after a hook timeout")
	}

	// No hook at all is fine; no svscan is exit 102.
	h = &Hook{Action: Halt, Record: filepath.Join(tmp, "rec2"), Hook: filepath.Join(tmp, "none"),
		Scandir: t.TempDir(), Stdout: &out, Now: time.Now}
	os.MkdirAll(filepath.Join(h.Scandir, ".s6-svscan"), 0o755)
	unix.Mkfifo(filepath.Join(h.Scandir, ".s6-svscan", "control"), 0o600)
	if err := h.Run(); cli.Code(err) != cli.ExitNotSupervised {
		t.Fatalf("without svscan: %v, want exit 102", err)
	}
}

// finalRec records a Final's calls. Wait4 answers from the wait
// channel, blocking while it is empty; once it has answered ECHILD it
// answers ECHILD to everyone, as the kernel does.
type finalRec struct {
	mu      sync.Mutex
	calls   []string
	wait    chan error
	gone    chan struct{}
	once    sync.Once
	umount  map[string]error
	remount map[string]error
}

func (r *finalRec) add(s string) {
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
}

func (r *finalRec) sys(graceFires, killWaitFires bool, onKiller func(*finalRec)) FinalSys {
	afters := 0
	return FinalSys{
		Kill: func(pid int, sig unix.Signal) error {
			r.add(fmt.Sprintf("kill %d %s", pid, unix.SignalName(sig)))
			return nil
		},
		Wait4: func() (int, error) {
			select {
			case err := <-r.wait:
				if errors.Is(err, unix.ECHILD) {
					r.once.Do(func() { close(r.gone) })
				}
				return 99, err
			case <-r.gone:
				return 0, unix.ECHILD
			}
		},
		StartKiller: func() error {
			r.add("killer")
			if onKiller != nil {
				onKiller(r)
			}
			return nil
		},
		After: func(d time.Duration) <-chan time.Time {
			r.mu.Lock()
			afters++
			n := afters
			r.mu.Unlock()
			c := make(chan time.Time, 1)
			if n == 1 && graceFires || n == 2 && killWaitFires {
				c <- time.Time{}
			}
			return c
		},
		Sync:      func() { r.add("sync") },
		Unmount:   func(t string) error { r.add("umount " + t); return r.umount[t] },
		RemountRO: func(t string) error { r.add("ro " + t); return r.remount[t] },
		Reboot:    func(cmd int) error { r.add(fmt.Sprintf("reboot %#x", cmd)); return errors.New("still alive") },
		Now:       time.Now,
	}
}

func TestFinal(t *testing.T) {
	mounts := "rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\ntmpfs /run tmpfs rw 0 0\n/dev/vda /mnt/with\\040space ext4 rw 0 0\n"
	umountTail := []string{"sync", "umount /mnt/with space", "umount /run", "umount /dev", "ro /dev", "umount /proc", "umount /", "ro /", "sync"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	term := []string{"sync", "kill -1 SIGTERM", "kill -1 SIGCONT"}
	for _, tc := range []struct {
		name       string
		action     Action
		waits      []error // what Wait4 returns, in order, before blocking
		graceFires bool
		killFires  bool
		onKiller   func(*finalRec)
		want       []string
		wantOut    []string
	}{
		{
			name:    "everything gone at once",
			action:  Poweroff,
			waits:   []error{nil, nil, unix.EINTR, nil, unix.ECHILD},
			want:    cat(term, umountTail, []string{"reboot 0x4321fedc"}),
			wantOut: []string{"every process gone after", "poweroff: orderly shutdown took"},
		},
		{
			name:       "grace expires, KILL works",
			action:     Halt,
			graceFires: true,
			onKiller:   func(r *finalRec) { r.wait <- nil; r.wait <- unix.ECHILD },
			want:       cat(term, []string{"killer"}, umountTail, []string{"reboot 0xcdef0123"}),
			wantOut:    []string{"processes left after the 3s grace period; sending KILL", "halt: orderly shutdown took"},
		},
		{
			name:       "grace expires, something survives KILL",
			action:     Reboot,
			graceFires: true,
			killFires:  true,
			want:       cat(term, []string{"killer"}, umountTail, []string{"reboot 0x1234567"}),
			wantOut:    []string{"processes left after KILL"},
		},
		{
			name:    "kexec refused, a plain reboot instead",
			action:  Kexec,
			waits:   []error{unix.ECHILD},
			want:    cat(term, umountTail, []string{"reboot 0x45584543", "reboot 0x1234567"}),
			wantOut: []string{"kexec: orderly shutdown took", "kexec: reboot(2) with LINUX_REBOOT_CMD_KEXEC: still alive; rebooting instead"},
		},
		{
			name:    "no action recorded",
			waits:   []error{unix.ECHILD},
			want:    cat(term, umountTail, []string{"reboot 0x1234567"}),
			wantOut: []string{"no shutdown action recorded", "default: reboot"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf := filepath.Join(t.TempDir(), "mounts")
			os.WriteFile(mf, []byte(mounts), 0o644)
			r := &finalRec{
				wait:    make(chan error, 16),
				gone:    make(chan struct{}),
				umount:  map[string]error{"/dev": unix.EBUSY, "/": unix.EINVAL},
				remount: map[string]error{"/": unix.EINVAL},
			}
			for _, w := range tc.waits {
				r.wait <- w
			}
			var out bytes.Buffer
			f := &Final{Action: tc.action, Grace: DefaultGrace, KillWait: DefaultKillWait,
				MountsFile: mf, Out: &out, Sys: r.sys(tc.graceFires, tc.killFires, tc.onKiller)}
			err := f.Run()
			if err == nil || err.Error() != "still alive" {
				t.Fatalf("Run returned %v, want the reboot error", err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if !reflect.DeepEqual(r.calls, tc.want) {
				t.Fatalf("calls:\n%q\nwant:\n%q\noutput:\n%s", r.calls, tc.want, out.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if !strings.Contains(out.String(), "file systems: 3 unmounted, 1 remounted read-only, 1 left as they were") {
				t.Errorf("unmount summary missing:\n%s", out.String())
			}
		})
	}
}

// TestFinalSwitch: a switch ends every process as a shutdown does, then
// unmounts only what the real root does not take along, and hands over
// to SwitchRoot instead of calling reboot(2).
func TestFinalSwitch(t *testing.T) {
	mounts := "rootfs / rootfs rw 0 0\nproc /proc proc rw 0 0\ndevtmpfs /dev devtmpfs rw 0 0\ndevpts /dev/pts devpts rw 0 0\n" +
		"tmpfs /run tmpfs rw 0 0\n9p /mnt/host 9p rw 0 0\n/dev/vda1 /sysroot ext4 ro 0 0\n/dev/vda2 /sysroot/boot vfat rw 0 0\ntmpfs /sysrootx tmpfs rw 0 0\n"
	for _, tc := range []struct {
		name      string
		switchErr error
		want      []string
	}{
		{"handed over", nil, []string{"sync", "kill -1 SIGTERM", "kill -1 SIGCONT", "sync", "umount /sysrootx", "umount /mnt/host", "sync", "switch"}},
		{"switch fails", errors.New("no init"), []string{"sync", "kill -1 SIGTERM", "kill -1 SIGCONT", "sync", "umount /sysrootx", "umount /mnt/host", "sync", "switch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf := filepath.Join(t.TempDir(), "mounts")
			os.WriteFile(mf, []byte(mounts), 0o644)
			r := &finalRec{wait: make(chan error, 16), gone: make(chan struct{})}
			r.wait <- unix.ECHILD
			sys := r.sys(false, false, nil)
			sys.SwitchRoot = func() error { r.add("switch"); return tc.switchErr }
			var out bytes.Buffer
			f := &Final{Action: Switch, Grace: DefaultGrace, KillWait: DefaultKillWait, MountsFile: mf, Out: &out, Sys: sys}
			if err := f.Run(); err != tc.switchErr {
				t.Errorf("Run = %v, want %v", err, tc.switchErr)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if !reflect.DeepEqual(r.calls, tc.want) {
				t.Errorf("calls:\n%q\nwant:\n%q\noutput:\n%s", r.calls, tc.want, out.String())
			}
			for _, w := range []string{"file systems: 2 unmounted, 0 remounted read-only, 0 left", "switch: the initramfs ended"} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
