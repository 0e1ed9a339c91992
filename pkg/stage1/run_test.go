package stage1

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/fifo"
)

// Sentinels the fakes panic with: exec succeeded, or the rescue shell.
type execDone struct{}
type rescued struct{ reason string }

// runRoot is a fake root for Run: every call is recorded in order, with
// descriptors named by what they point to (relative to the root).
type runRoot struct {
	root  string
	calls []string
	out   bytes.Buffer
}

func (r *runRoot) add(format string, a ...any) { r.calls = append(r.calls, fmt.Sprintf(format, a...)) }

func (r *runRoot) rel(p string) string {
	if strings.HasPrefix(p, r.root) {
		return "/" + strings.TrimPrefix(strings.TrimPrefix(p, r.root), "/")
	}
	return p
}

func (r *runRoot) fdName(fd int) string {
	p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return fmt.Sprintf("fd%d", fd)
	}
	return r.rel(p)
}

type runCase struct {
	cmdline   string
	noLogger  bool
	mountErrs map[string]error
	fifoErr   error
	execErr   error
}

func (r *runRoot) stage1(t *testing.T, tc runCase) *Stage1 {
	t.Helper()
	write := func(p, content string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(r.root+p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.root+p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("/etc/hostname", "box\n", 0o644)
	write("/dev/null", "", 0o644)
	write(bootfs.SeedScandir+"/early-getty/run", "#!/bin/execlineb -P\ngetty\n", 0o755)
	if !tc.noLogger {
		write(bootfs.SeedScandir+"/svscan-log/run", "#!/bin/execlineb -P\nsvlog\n", 0o755)
	}
	write("/proc/cmdline.next", tc.cmdline+"\n", 0o644)
	return &Stage1{
		Root:    r.root,
		Console: &r.out,
		Sys: Sys{
			Umask: func(m int) int { r.add("umask %03o", m); return 0 },
			Mount: func(source, target, fstype string, flags uintptr, data string) error {
				target = r.rel(target)
				r.add("mount %s %s", fstype, target)
				if err := tc.mountErrs[target]; err != nil {
					return err
				}
				if fstype == "proc" {
					// The kernel's /proc: the command line, and proc itself
					// listed as mounted.
					os.Rename(r.root+"/proc/cmdline.next", r.root+"/proc/cmdline")
					os.WriteFile(r.root+"/proc/mounts", []byte("proc /proc proc rw 0 0\n"), 0o644)
				}
				return nil
			},
			Mknod: func(p string, mode uint32, dev int) error {
				r.add("mknod %s", r.rel(p))
				return os.WriteFile(p, nil, 0o600)
			},
			Sethostname: func(b []byte) error { r.add("sethostname %s", b); return nil },
			Dup2: func(o, n int) error {
				r.add("dup2 %s %d", r.fdName(o), n)
				return nil
			},
			OpenFIFOWriter: func(p string) (int, error) {
				r.add("openfifo %s", r.rel(p))
				if tc.fifoErr != nil {
					return -1, tc.fifoErr
				}
				return fifo.OpenWriter(p, unix.O_CLOEXEC, true)
			},
			IgnoreSIGPIPE: func() { r.add("ignore SIGPIPE") },
			Reboot:        func(cmd int) error { r.add("reboot %#x", cmd); return nil },
			Exec: func(p string, argv, env []string) error {
				r.add("exec %s %q", r.rel(p), argv)
				if tc.execErr != nil {
					return tc.execErr
				}
				panic(execDone{})
			},
		},
		StartChild: func(fifoPath string, env []string) error {
			r.add("start stage 2 (fifo %q)", fifoPath)
			return nil
		},
	}
}

func TestRun(t *testing.T) {
	mounts := []string{"umask 022", "mount proc /proc", "mount sysfs /sys", "mount devtmpfs /dev", "mount devpts /dev/pts",
		"mount tmpfs /dev/shm", "mount tmpfs /run", "mount cgroup2 /sys/fs/cgroup"}
	console := []string{"mknod /dev/console", "dup2 /dev/console 0", "dup2 /dev/console 1", "dup2 /dev/console 2"}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	handover := []string{"openfifo /run/service/svscan-log/fifo", `start stage 2 (fifo "/run/service/svscan-log/fifo")`,
		"ignore SIGPIPE", "reboot 0x0",
		"dup2 /run/service/svscan-log/fifo 1", "dup2 /run/service/svscan-log/fifo 2", "dup2 /dev/null 0",
		`exec /bin/svscan ["svscan" "/run/service"]`}
	for _, tc := range []struct {
		name    string
		c       runCase
		want    []string
		rescue  string   // the rescue shell's reason; "" for exec
		out     []string // on the console
		stage2  string   // the stage-2 program
		noFiles bool     // the scan directory is not made
	}{
		{
			name:   "normal boot",
			want:   cat(mounts, console, []string{"sethostname box"}, handover),
			stage2: bootfs.Stage2,
		},
		{
			name:   "kernel knobs: svinit.stage2, svinit.debug, hostname",
			c:      runCase{cmdline: "quiet svinit.stage2=/bin/other svinit.debug hostname=kernelbox"},
			want:   cat(mounts, console, []string{"sethostname kernelbox"}, handover),
			stage2: "/bin/other",
			out:    []string{"stage 1 starting (svinit.debug)", "mounted sysfs on /sys", "stage 1 done in", "handing over to /bin/svscan /run/service"},
		},
		{
			name:    "svinit.rescue",
			c:       runCase{cmdline: "svinit.rescue"},
			want:    cat(mounts, console),
			rescue:  "svinit.rescue on the kernel command line",
			noFiles: true,
		},
		{
			name:    "a mount fails",
			c:       runCase{mountErrs: map[string]error{"/sys": unix.EPERM}},
			want:    cat(mounts, console),
			rescue:  "early file systems: mount sysfs on /sys: operation not permitted",
			out:     []string{"uinit: mount sysfs on /sys: operation not permitted"},
			noFiles: true,
		},
		{
			name:   "no catch-all logger: output stays on the console",
			c:      runCase{noLogger: true},
			want:   cat(mounts, console, []string{"sethostname box", `start stage 2 (fifo "")`, "reboot 0x0", `exec /bin/svscan ["svscan" "/run/service"]`}),
			stage2: bootfs.Stage2,
			out:    []string{"/run/service/svscan-log: no catch-all logger service; output stays on the console"},
		},
		{
			name:   "the FIFO cannot be opened",
			c:      runCase{fifoErr: unix.ENXIO},
			want:   cat(mounts, console, []string{"sethostname box", "openfifo /run/service/svscan-log/fifo"}),
			rescue: "catch-all logger FIFO: no such device or address",
		},
		{
			name: "svscan cannot be executed",
			c:    runCase{execErr: unix.ENOENT},
			want: cat(mounts, console, []string{"sethostname box"}, handover,
				[]string{"dup2 /dev/console 1", "dup2 /dev/console 2"}),
			rescue: "exec /bin/svscan /run/service: no such file or directory",
			stage2: bootfs.Stage2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &runRoot{root: t.TempDir()}
			s := r.stage1(t, tc.c)
			var reason string
			s.RescueShell = func(why string) { panic(rescued{why}) }
			func() {
				defer func() {
					switch v := recover().(type) {
					case nil:
						t.Errorf("Run returned")
					case execDone:
					case rescued:
						reason = v.reason
					default:
						panic(v)
					}
				}()
				s.Run([]string{"PATH=" + bootfs.DefaultPath})
			}()
			if c, ok := s.Console.(*os.File); ok {
				c.Close()
			}
			if !reflect.DeepEqual(r.calls, tc.want) {
				t.Errorf("calls:\n%s\nwant:\n%s\nconsole:\n%s", strings.Join(r.calls, "\n"), strings.Join(tc.want, "\n"), r.out.String())
			}
			if reason != tc.rescue {
				t.Errorf("rescue shell for %q, want %q", reason, tc.rescue)
			}
			// Messages go to the console file once it is set up.
			con, _ := os.ReadFile(s.P(bootfs.Console))
			all := r.out.String() + string(con)
			for _, w := range tc.out {
				if !strings.Contains(all, w) {
					t.Errorf("console lacks %q:\n%s", w, all)
				}
			}
			if tc.stage2 != "" && s.Stage2Path() != tc.stage2 {
				t.Errorf("stage 2 is %s, want %s", s.Stage2Path(), tc.stage2)
			}
			_, err := os.Stat(s.P(bootfs.Scandir + "/early-getty/run"))
			if tc.noFiles != errors.Is(err, os.ErrNotExist) {
				t.Errorf("scan directory copied: %v, want %v", err == nil, !tc.noFiles)
			}
		})
	}
}
