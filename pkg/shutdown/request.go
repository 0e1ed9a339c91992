package shutdown

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"golang.org/x/sys/unix"
)

// RequestSys holds the calls poweroff, reboot and halt make.
type RequestSys struct {
	PID    int // the process to signal: 1
	Kill   func(pid int, sig unix.Signal) error
	Sync   func()
	Reboot func(cmd int) error
	Sleep  func(time.Duration)
	Kexec  KexecSys // reboot -k
}

// RealRequestSys returns the system's own calls, signalling process 1.
func RealRequestSys() RequestSys {
	return RequestSys{PID: 1, Kill: unix.Kill, Sync: unix.Sync, Reboot: unix.Reboot, Sleep: time.Sleep,
		Kexec: RealKexecSys()}
}

// Options are poweroff/reboot/halt's command line.
type Options struct {
	Force  bool          // -f: reboot(2) at once, no services brought down
	NoSync bool          // -n: with -f, do not sync first
	Kexec  bool          // -k (reboot only): into the kernel loaded for kexec
	Delay  time.Duration // "+N" minutes or "now"
}

// ParseOptions parses "[-f] [-n] [-k] [now|+MINUTES]" (flags may be
// combined, "--" ends them; -k only for reboot).
func ParseOptions(prog string, args []string) (Options, error) {
	var o Options
	opts, usage := "fn", "usage: %s [-f] [-n] [now|+MINUTES]"
	if prog == Reboot.String() {
		opts, usage = "fnk", "usage: %s [-f] [-n] [-k] [now|+MINUTES]"
	}
	g := getopt.New(args, opts)
	for {
		c, ok, err := g.Next()
		if err != nil {
			return o, cli.Usagef("%v\n"+usage, err, prog)
		}
		if !ok {
			break
		}
		switch c {
		case 'f':
			o.Force = true
		case 'n':
			o.NoSync = true
		case 'k':
			o.Kexec = true
		}
	}
	rest := g.Rest()
	if len(rest) > 1 {
		return o, cli.Usagef("too many arguments\n"+usage, prog)
	}
	if len(rest) == 1 {
		d, err := ParseWhen(rest[0])
		if err != nil {
			return o, cli.Usagef("%v\n"+usage, err, prog)
		}
		o.Delay = d
	}
	return o, nil
}

// ParseWhen parses "now" or "+N" (N minutes, 0 to 10080).
func ParseWhen(s string) (time.Duration, error) {
	if s == "now" || s == "+0" {
		return 0, nil
	}
	if strings.HasPrefix(s, "+") {
		n, err := strconv.Atoi(s[1:])
		if err == nil && n >= 0 && n <= 7*24*60 {
			return time.Duration(n) * time.Minute, nil
		}
	}
	return 0, fmt.Errorf("bad time %q: want now or +MINUTES", s)
}

// Request carries out poweroff/reboot/halt: after the delay, either ask
// process 1 with the action's signal (the orderly way: svscan's hook
// runs svinit-shutdown), or with Force sync (unless NoSync) and call
// reboot(2) at once. With Kexec (reboot -k) the action is Kexec: it is
// refused before the delay when no kernel is loaded for kexec, and
// asked for with sys.Kexec.Request instead of a signal.
func Request(a Action, o Options, sys RequestSys, stderr io.Writer, prog string) error {
	if o.Kexec {
		a = Kexec
		ok, err := KexecLoaded(sys.Kexec.LoadedFile)
		if err != nil {
			return cli.Exitf(cli.ExitSystem, "-k: %v", err)
		}
		if !ok {
			return cli.Exitf(cli.ExitSystem, "-k: %v (%s is 0): load one first (svboot, svnetboot, or kexec -l KERNEL); nothing was stopped", ErrNoKexecKernel, sys.Kexec.LoadedFile)
		}
	}
	if o.Delay > 0 {
		fmt.Fprintf(stderr, "%s: %s in %v\n", prog, a, o.Delay)
		sys.Sleep(o.Delay)
	}
	if o.Force {
		if !o.NoSync {
			sys.Sync()
		}
		err := sys.Reboot(a.RebootCmd())
		if errors.Is(err, unix.EPERM) {
			return cli.Exitf(cli.ExitSystem, "reboot(2) for %s: %v (run it as root)", a, err)
		}
		return cli.Exitf(cli.ExitSystem, "reboot(2) for %s: %v", a, err)
	}
	if a == Kexec {
		return sys.Kexec.Request()
	}
	if err := sys.Kill(sys.PID, a.Signal()); err != nil {
		hint := ""
		if errors.Is(err, unix.EPERM) {
			hint = " (run it as root)"
		}
		return cli.Exitf(cli.ExitSystem, "send %s to process %d: %v%s", unix.SignalName(a.Signal()), sys.PID, err, hint)
	}
	return nil
}

// Command is the whole of poweroff, reboot and halt: parse args (args[0]
// is the program name) and Request.
func Command(a Action, args []string, stderr io.Writer, sys RequestSys) error {
	prog := a.String()
	o, err := ParseOptions(prog, args[1:])
	if err != nil {
		return err
	}
	return Request(a, o, sys, stderr, prog)
}
