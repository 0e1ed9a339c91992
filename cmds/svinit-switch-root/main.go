// Command svinit-switch-root hands the machine over to the real root:
// stage 2 runs it last. Without root= it does nothing. With root= it
// waits for the device, mounts it on /sysroot and asks for the switch,
// which the final stage carries out once every service is down; with
// svinit.keep it moves the running supervision tree onto the real root
// instead (rootfs.Keeper). See docs/svinit-switch-root.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/rootfs"
	"github.com/svinit/svinit/pkg/shutdown"
	"github.com/svinit/svinit/pkg/stage1"
)

func main() { cli.Main("svinit-switch-root", run) }

const usage = "usage: svinit-switch-root [-n]"

// consoleGetty is the early service (templates/early-getty) whose
// console shell serves as the rescue shell when the root is not found.
const consoleGetty = "early-getty"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("svinit-switch-root", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noSwitch := fs.Bool("n", false, "")
	finishing := fs.String("F", "", "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		return cli.Usagef("%v\n%s", err, usage)
	}
	if *finishing != "" {
		// Internal: the second half of svinit.keep, exec'd by the
		// first from the real root.
		old, start, err := finishArg(*finishing)
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		out := withConsole(stdout)
		return finish(out, rootfs.NewKeeper(out), old, start, nil)
	}
	c := bootfs.ReadCmdline("/")
	if c.Root.Spec == "" {
		// The usual initramfs-only boot: nothing to say but with svinit.debug.
		if c.Debug {
			fmt.Fprintln(stdout, "svinit-switch-root: no root= (kernel command line or the image's root:): the initramfs stays the root")
		}
		return nil
	}
	out := withConsole(stdout)
	f := rootfs.NewFinder(c.Root, out, func(t string) error {
		return rootfs.LoadFSModule(t, "/proc/filesystems", "/lib/modules", "/sys")
	})
	f.Keep = c.Keep
	if _, err := f.Find(); err != nil {
		if !errors.Is(err, rootfs.ErrNotFound) {
			fmt.Fprintf(out, "svinit-switch-root: %v\n", err)
		}
		return rescue(out, err)
	}
	if *noSwitch {
		return nil
	}
	if c.Keep {
		return keep(out)
	}
	h := shutdown.NewHook(shutdown.Switch, stdout)
	h.Detach = detach
	return h.Run()
}

// keep switches to the real root under the running supervision tree
// (svinit.keep) and says what it did. The rest (deleting the initramfs,
// the real root's services) is done by the real root's own
// svinit-switch-root, exec'd with -F, so that no process maps the
// initramfs's busybox any more when it is deleted.
func keep(out io.Writer) error {
	k := rootfs.NewKeeper(out)
	start := time.Now()
	st, old, err := k.Switch()
	if old.Fd < 0 {
		// The scanner's root did not change: the initramfs stays the
		// root, with every service up.
		fmt.Fprintf(out, "svinit-switch-root: svinit.keep: %v\n", err)
		return rescue(out, err)
	}
	fmt.Fprintf(out, "svinit-switch-root: svinit.keep: the supervision tree runs on the real root: switched in %s (checks %s, bound %s in %s, the scanner's change of root %s, chroot %s)\n",
		ms(st.Check+st.Move+st.Scanner+st.Chroot), ms(st.Check), strings.Join(st.Bound, " "), ms(st.Move), ms(st.Scanner), ms(st.Chroot))
	if st.LogDir != "" {
		fmt.Fprintf(out, "svinit-switch-root: the catch-all log goes on in %s (%d files copied from %s; logger stopped, log copied, logger up again in %s)\n",
			st.LogDir, st.LogFiles, bootfs.CatchAllLogDir, ms(st.Log))
	}
	if st.Reexec > 0 {
		fmt.Fprintf(out, "svinit-switch-root: the scanner runs the real root's %s, re-exec'd with its state in %s\n", bootfs.Svscan, ms(st.Reexec))
	}
	if err == nil && rootfs.CheckInit("/", selfPath) == nil {
		arg := fmt.Sprintf("%d:%d:%d", old.Fd, old.Dev, start.UnixNano())
		if _, ferr := unix.FcntlInt(uintptr(old.Fd), unix.F_SETFD, 0); ferr == nil {
			err = unix.Exec(selfPath, []string{"svinit-switch-root", "-F", arg}, os.Environ())
		}
		fmt.Fprintf(out, "svinit-switch-root: exec %s -F: %v; finishing here\n", selfPath, err)
		err = nil
	}
	return finish(out, k, old, start, err)
}

// selfPath is svinit-switch-root in the real root.
const selfPath = "/bin/svinit-switch-root"

// finishArg reads -F's argument: FD:DEV:START (the old root's
// descriptor and device, the switch's start in Unix nanoseconds).
func finishArg(s string) (rootfs.OldRoot, time.Time, error) {
	var fd int
	var dev uint64
	var ns int64
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &fd, &dev, &ns); err != nil || fd < 0 {
		return rootfs.OldRoot{}, time.Time{}, fmt.Errorf("-F %q: want FD:DEV:START", s)
	}
	return rootfs.OldRoot{Fd: fd, Dev: dev}, time.Unix(0, ns), nil
}

// finish deletes the initramfs while the real root's services come up,
// and says so; err is what went wrong before.
func finish(out io.Writer, k *rootfs.Keeper, old rootfs.OldRoot, start time.Time, err error) error {
	var st rootfs.KeepStats
	ferr := k.Finish(old, &st)
	unix.Close(old.Fd)
	fmt.Fprintf(out, "svinit-switch-root: initramfs deleted: %d files, %s of file data, %s more free memory, in %s\n",
		st.Files, rootfs.HumanSize(st.Freed), rootfs.HumanSize(st.MemFreed), ms(st.Delete))
	if st.Rc > 0 {
		fmt.Fprintf(out, "svinit-switch-root: the real root's services (%s, bundle %s) up in %s\n", bootfs.RealRootRc, bootfs.KeepBundle, ms(st.Rc))
	}
	fmt.Fprintf(out, "svinit-switch-root: svinit.keep done in %s\n", ms(time.Since(start)))
	if err := errors.Join(err, ferr); err != nil {
		return cli.Exitf(1, "svinit.keep: %v", err)
	}
	return nil
}

func ms(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }

// rescue leaves the console to the early getty's shell when there is
// one; else it runs stage 1's rescue shell on the console itself.
func rescue(out io.Writer, err error) error {
	if _, serr := os.Stat(filepath.Join(bootfs.Scandir, consoleGetty)); serr == nil {
		fmt.Fprintf(out, "svinit-switch-root: staying in the initramfs; the console's shell (%s) is the rescue shell\n", consoleGetty)
		return cli.Exitf(1, "%v", err)
	}
	con, cerr := os.OpenFile(bootfs.Console, os.O_RDWR, 0)
	if cerr != nil {
		return cli.Exitf(1, "%v; and no console for a rescue shell: %v", err, cerr)
	}
	for fd := 0; fd < 3; fd++ {
		unix.Dup3(int(con.Fd()), fd, 0)
	}
	unix.Setsid()
	(&stage1.Stage1{Root: "/", Console: con}).Rescue("svinit-switch-root: " + err.Error())
	return nil
}

// withConsole returns stdout and the console both, unless stdout is the
// console.
func withConsole(stdout io.Writer) io.Writer {
	con, err := os.OpenFile(bootfs.Console, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return stdout
	}
	var a, b unix.Stat_t
	if f, ok := stdout.(*os.File); ok && unix.Fstat(int(f.Fd()), &a) == nil && unix.Fstat(int(con.Fd()), &b) == nil && a.Rdev == b.Rdev && a.Mode&unix.S_IFMT == unix.S_IFCHR {
		con.Close()
		return stdout
	}
	return io.MultiWriter(stdout, con)
}

// detach points fds 1 and 2 at the console (or /dev/null): off the
// catch-all logger's FIFO, which must see EOF before the switch.
func detach() {
	f, err := os.OpenFile(bootfs.Console, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		if f, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			return
		}
	}
	unix.Dup3(int(f.Fd()), 1, 0)
	unix.Dup3(int(f.Fd()), 2, 0)
	f.Close()
}
