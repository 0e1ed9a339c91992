// Command ueventd is svinit's device manager: coldplug, then kernel
// hotplug events; /dev permissions and symlinks from /etc/ueventd.rules,
// modules for MODALIAS, firmware requests. See docs/ueventd.md.
package main

import (
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/devrules"
	"github.com/svinit/svinit/pkg/getopt"
	"github.com/svinit/svinit/pkg/kmod"
	"github.com/svinit/svinit/pkg/uevent"
	"github.com/svinit/svinit/pkg/uevent/ueventd"
	"golang.org/x/sys/unix"
)

func main() { cli.Main("ueventd", run) }

const usage = "usage: ueventd [-v] [-o] [-M] [-d notif-fd] [-s sysdir] [-D devdir] [-m moduledir] [-r rulesfile] [-f firmwaredir] [-b bufsize]"

type options struct {
	notify                            int
	sys, dev, mods, rules, firmware   string
	once, noModules, verbose, modsSet bool
	bufSize                           int
}

func parse(args []string) (*options, error) {
	o := &options{notify: -1, sys: "/sys", dev: "/dev", rules: "/etc/ueventd.rules", firmware: "/lib/firmware"}
	if len(args) > 0 {
		args = args[1:]
	}
	g := getopt.New(args, "voMd:s:D:m:r:f:b:")
	for {
		c, ok, err := g.Next()
		if err != nil {
			return nil, cli.Usagef("%v\n%s", err, usage)
		}
		if !ok {
			break
		}
		switch c {
		case 'v':
			o.verbose = true
		case 'o':
			o.once = true
		case 'M':
			o.noModules = true
		case 'd':
			if o.notify, err = cli.NotificationFd(g.Arg); err != nil {
				return nil, cli.Usagef("%v\n%s", err, usage)
			}
		case 's':
			o.sys = g.Arg
		case 'D':
			o.dev = g.Arg
		case 'm':
			o.mods, o.modsSet = g.Arg, true
		case 'r':
			o.rules = g.Arg
		case 'f':
			o.firmware = g.Arg
		case 'b':
			n, err := strconv.Atoi(g.Arg)
			if err != nil || n <= 0 {
				return nil, cli.Usagef("-b %s: want a buffer size in bytes\n%s", g.Arg, usage)
			}
			o.bufSize = n
		}
	}
	if len(g.Rest()) != 0 {
		return nil, cli.Usagef("unexpected argument %q\n%s", g.Rest()[0], usage)
	}
	return o, nil
}

func release() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	var notify *os.File
	if o.notify >= 0 {
		unix.CloseOnExec(o.notify)
		notify = os.NewFile(uintptr(o.notify), "notification-fd")
	}
	rel := release()
	if !o.modsSet {
		o.mods = filepath.Join("/lib/modules", rel)
	}

	// The socket first: every event from here on is queued, so nothing
	// that happens during the coldplug walk is missed.
	var conn *uevent.Conn
	if !o.once {
		conn, err = uevent.Open(o.bufSize)
		if err != nil {
			return cli.Exitf(cli.ExitSystem, "%v", err)
		}
		defer conn.Close()
	}

	cfg := ueventd.Config{
		SysRoot: o.sys,
		DevRoot: o.dev,
		Log:     stdout,
		Verbose: o.verbose,
	}
	if o.firmware != "" {
		cfg.FirmwareDirs = []string{
			filepath.Join(o.firmware, "updates", rel), filepath.Join(o.firmware, "updates"),
			filepath.Join(o.firmware, rel), o.firmware,
		}
	}
	d := ueventd.New(cfg)
	d.SetRules(loadRules(d, o.rules))
	if !o.noModules {
		if l := loader(d, o.mods, o.sys); l != nil {
			d.SetModules(l)
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			d.SetRules(loadRules(d, o.rules))
			d.Logf("reloaded %s", o.rules)
		}
	}()

	if o.once {
		err := d.Coldplug()
		d.WaitCommands()
		if err != nil {
			return cli.Exitf(cli.ExitSystem, "%v", err)
		}
		return nil
	}
	ready := func() {
		if o.verbose {
			d.Logf("coldplug done, ready")
		}
		if notify != nil {
			notify.Write([]byte("\n"))
			notify.Close()
		}
	}
	// Serve only returns when the socket fails for good.
	return cli.Exitf(cli.ExitSystem, "%v", d.Serve(conn, ready))
}

func lookupUser(n string) (int, error)  { return devrules.LookupID("/etc/passwd", n) }
func lookupGroup(n string) (int, error) { return devrules.LookupID("/etc/group", n) }

func loadRules(d *ueventd.Daemon, path string) []devrules.Rule {
	r, errs := devrules.ParseFile(path, devrules.Options{LookupUser: lookupUser, LookupGroup: lookupGroup})
	for _, e := range errs {
		d.Logf("%v (rule ignored)", e)
	}
	return r
}

func loader(d *ueventd.Daemon, root, sys string) *kmod.Loader {
	idx, err := kmod.LoadIndex(root)
	if err != nil {
		d.Logf("no module index: %v; devices will not get modules loaded (the image needs modules.alias and modules.dep in %s)", err, root)
		return nil
	}
	loaded, _ := kmod.ProcModules("/proc/modules")
	var params map[string]string
	var blacklist map[string]bool
	if b, err := os.ReadFile("/proc/cmdline"); err == nil {
		params, blacklist = kmod.CmdlineOptions(strings.TrimSpace(string(b)))
	}
	return kmod.NewLoader(idx, kmod.LoaderOptions{
		Logf:      d.Logf,
		Params:    params,
		Blacklist: blacklist,
		Loaded:    loaded,
		IsLoaded:  kmod.SysfsLoaded(sys),
	})
}
