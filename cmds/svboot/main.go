// Command svboot is the boot service: it finds the boot entries of the
// systems installed on local disks (GRUB, syslinux/extlinux, Boot Loader
// Specification), shows them on the console as a menu with a default
// and a countdown, loads the chosen kernel and asks svinit for the
// kexec action. See docs/svboot.md. The logic lives in pkg/bootmenu.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/bootmenu"
	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/getty"
	"github.com/svinit/svinit/pkg/rootfs"
	"github.com/svinit/svinit/pkg/shutdown"

	"github.com/u-root/u-root/pkg/boot"
)

func main() { cli.Main("svboot", run) }

const usage = "usage: svboot [-n] [-v] [-t seconds] [-w seconds] [-d entry] [-b entry] [-c tty] [-m mountdir] [prog...]"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	s := &bootmenu.Service{Timeout: bootmenu.DefaultTimeout, Log: stdout}
	tty, mountDir, verbose := "", bootmenu.DefaultMountDir, false
	var wait time.Duration
	g := getopt.New(args, "nvt:w:d:b:c:m:")
	for {
		o, ok, err := g.Next()
		if err != nil {
			return cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch o {
		case 'n':
			s.DryRun = true
		case 'v':
			verbose = true
		case 't':
			n, err := strconv.Atoi(g.Arg)
			if err != nil || n < 0 || n > bootfs.MaxBootTimeout {
				return cli.Usagef("-t %s: want seconds between 0 and %d\n%s", g.Arg, bootfs.MaxBootTimeout, usage)
			}
			s.Timeout = time.Duration(n) * time.Second
		case 'w':
			n, err := strconv.Atoi(g.Arg)
			if err != nil || n < 0 || n > bootfs.MaxBootTimeout {
				return cli.Usagef("-w %s: want seconds between 0 and %d\n%s", g.Arg, bootfs.MaxBootTimeout, usage)
			}
			wait = time.Duration(n) * time.Second
		case 'd':
			s.Default = g.Arg
		case 'b':
			s.Boot = g.Arg
		case 'c':
			tty = g.Arg
		case 'm':
			mountDir = g.Arg
		}
	}
	s.Chain = g.Rest()
	// The kernel's command line (and the image's defaults) win over the
	// service's options.
	c := bootfs.ReadCmdline("/")
	if c.Boot != "" {
		s.Boot = c.Boot
	}
	if c.HasBootTimeout {
		s.Timeout = time.Duration(c.BootTimeout) * time.Second
	}
	// u-root's parsers print whole config files with the log package.
	if verbose {
		log.SetOutput(stdout)
	} else {
		log.SetOutput(io.Discard)
	}

	term, restore := openTerminal(tty, stdout)
	defer restore()
	if term != nil {
		s.Term = term
		s.Keys = bootmenu.Keys(term)
	}
	s.Find = func(ctx context.Context) ([]bootmenu.Entry, func() error, error) {
		d := bootmenu.NewDisks(s.Term)
		if s.Term == nil {
			d.Log = stdout
		}
		d.MountDir, d.Verbose = mountDir, verbose
		var ev rootfs.Events
		if wait > 0 {
			// Subscribed before the first look: no disk is missed.
			u, err := rootfs.OpenUevents()
			if err != nil {
				fmt.Fprintf(stdout, "svboot: -w: %v; not waiting for disks\n", err)
			} else {
				defer u.Close()
				ev = u
			}
		}
		entries, err := d.FindWait(ctx, ev, wait)
		return entries, d.Close, err
	}
	s.Load = func(e bootmenu.Entry) error {
		// Read where they are (the mounts are read-only), else copied
		// to /tmp (and unpacked) by u-root's loader.
		if k, i, ok := bootmenu.LocalFiles(e); ok {
			return shutdown.Load(k, i, e.Cmdline())
		}
		return e.Image.Load(boot.WithLogger(nil))
	}
	s.Kexec = shutdown.RequestKexec
	s.Exec = func(argv []string) error {
		restore()
		p, err := exec.LookPath(argv[0])
		if err == nil {
			err = syscall.Exec(p, argv, os.Environ())
		}
		fmt.Fprintf(stdout, "svboot: exec %s: %v\n", argv[0], err)
		return cli.Exitf(cli.ExitSystem, "exec %s: %v", argv[0], err)
	}
	s.Wait = func() {
		// svscan stops the service on the way down: TERM (or HUP).
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, unix.SIGTERM, unix.SIGHUP, unix.SIGINT)
		<-sig
	}
	// Run said why on the log and the console already.
	err := s.Run(context.Background())
	var ce *cli.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return cli.Silent(ce.Code)
	}
	return cli.Silent(1)
}

// openTerminal opens the menu's terminal (tty, else the kernel's
// console) in the menu's key-by-key mode. Without one the menu runs
// without keys: the countdown, then the default.
func openTerminal(tty string, log io.Writer) (*os.File, func()) {
	if tty == "" {
		var err error
		if tty, err = getty.ConsoleTTY("/sys", "/dev"); err != nil {
			tty = bootfs.Console
		}
	}
	f, err := os.OpenFile(tty, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		fmt.Fprintf(log, "svboot: open %s: %v; no menu keys\n", tty, err)
		return nil, func() {}
	}
	restore, err := bootmenu.RawTerminal(int(f.Fd()))
	if err != nil {
		fmt.Fprintf(log, "svboot: %s: %v\n", tty, err)
	}
	done := false
	return f, func() {
		if !done {
			done = true
			restore()
		}
	}
}
