// Command svinit-final is the last thing process 1 runs: .s6-svscan/finish
// execs it once svscan has stopped. It kills every process, unmounts
// every file system and calls reboot(2). See docs/svinit-final.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/rootfs"
	"github.com/svinit/svinit/pkg/shutdown"
	"github.com/svinit/svinit/pkg/stage1"
)

func main() { cli.Main("svinit-final", run) }

// envKiller marks the child that sends kill(-1, SIGKILL).
const envKiller = "SVINIT_FINAL_KILL"

const usage = "usage: svinit-final [-g grace_ms] [-a poweroff|reboot|halt|switch|kexec] [-v]"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if os.Getenv(envKiller) == "1" {
		// The KILL child: everybody but process 1 and us.
		unix.Kill(-1, unix.SIGKILL)
		return nil
	}
	fs := flag.NewFlagSet("svinit-final", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	grace := fs.Int("g", -1, "")
	act := fs.String("a", "", "")
	verbose := fs.Bool("v", false, "")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		return cli.Usagef("%v\n%s", err, usage)
	}
	var forced shutdown.Action
	if *act != "" {
		a, err := shutdown.ParseAction(*act)
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		forced = a
	}
	if os.Getpid() != 1 {
		return cli.Usagef("must run as process 1 (it kills every process and reboots the machine)")
	}
	// Process 1 must not die: Go's default for these is to exit.
	signal.Ignore(unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1,
		unix.SIGUSR2, unix.SIGPWR, unix.SIGPIPE, unix.SIGALRM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU)

	// Off the catch-all FIFO, onto the console: the logger sees EOF once
	// the last other writer dies.
	out := consoleOrNull()
	for fd := 0; fd < 3; fd++ {
		unix.Dup3(int(out.Fd()), fd, 0)
	}

	rec, err := shutdown.ReadRecord(bootfs.ShutdownRecord)
	if err != nil {
		fmt.Fprintf(out, "svinit-final: %v\n", err)
	}
	if forced != shutdown.None {
		rec.Action = forced
	}
	cmdline := bootfs.ReadCmdline("/")
	g := shutdown.DefaultGrace
	if cmdline.GraceMS >= 0 {
		g = time.Duration(cmdline.GraceMS) * time.Millisecond
	}
	if *grace >= 0 {
		g = time.Duration(*grace) * time.Millisecond
	}
	f := &shutdown.Final{
		Action: rec.Action, Since: rec.Since, Grace: g, KillWait: shutdown.DefaultKillWait,
		MountsFile: bootfs.ProcMounts, Out: out, Verbose: *verbose || cmdline.Debug,
		Sys: shutdown.RealFinalSys(func() error { return startKiller(out) }),
	}
	f.Sys.SwitchRoot = func() error { return switchRoot(out, cmdline.Root.InitPath(), rec.Since) }
	err = f.Run()
	if rec.Action == shutdown.Switch {
		// The switch failed: the services are gone; a shell is what is left.
		(&stage1.Stage1{Root: "/", Console: out}).Rescue(fmt.Sprintf("svinit-final: switch to the real root failed: %v", err))
	}
	a := rec.Action
	if a == shutdown.None {
		a = shutdown.DefaultAction
	}
	for {
		// reboot(2) failed: nothing sensible is left; say so forever.
		fmt.Fprintf(out, "svinit-final: reboot(2): %v; the system is stopped\n", err)
		time.Sleep(30 * time.Second)
		err = f.Sys.Reboot(a.RebootCmd())
	}
}

// switchRoot makes bootfs.RootMount the root and execs init there as
// process 1, saying what it did and how long it took. It returns only
// on failure.
func switchRoot(out io.Writer, init string, since time.Time) error {
	start := time.Now()
	st, err := rootfs.Switch(bootfs.RootMount, init)
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(out, "svinit-final: switched to the real root in %v: moved %s; %d initramfs files deleted, %s freed (in %v)\n",
		now.Sub(start).Round(time.Microsecond), strings.Join(st.Moved, " "), st.Files, rootfs.HumanSize(st.Freed), st.Delete.Round(time.Microsecond))
	fmt.Fprintf(out, "svinit-final: switch steps: checks %v, mounts moved and chroot %v, initramfs deleted %v\n",
		st.Check.Round(time.Microsecond), st.Move.Round(time.Microsecond), st.Delete.Round(time.Microsecond))
	if len(st.Detached) > 0 {
		fmt.Fprintf(out, "svinit-final: the real root has no directory for %s: detached\n", strings.Join(st.Detached, " "))
	}
	if !since.IsZero() {
		fmt.Fprintf(out, "svinit-final: hand-over took %v from the switch request; exec %s\n", now.Sub(since).Round(time.Microsecond), init)
	}
	return rootfs.ExecInit(init, initEnv())
}

// initEnv is the environment the kernel gives init: HOME, TERM.
func initEnv() []string {
	term := os.Getenv("TERM")
	if term == "" {
		term = "linux"
	}
	return []string{"HOME=/", "TERM=" + term}
}

func consoleOrNull() *os.File {
	if c, err := os.OpenFile(bootfs.Console, os.O_RDWR|unix.O_NOCTTY, 0); err == nil {
		return c
	}
	if n, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
		return n
	}
	return os.Stderr
}

// startKiller starts this program again, as the KILL child.
func startKiller(out *os.File) error {
	argv0 := "svinit-final"
	if len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	p, err := os.StartProcess("/proc/self/exe", []string{argv0}, &os.ProcAttr{
		Env: append(os.Environ(), envKiller+"=1"),
		// Every standard fd open: the Go runtime of a child started
		// with one closed opens /dev/null for it, and dies without one.
		Files: []*os.File{out, out, out},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return err
	}
	return p.Release()
}
