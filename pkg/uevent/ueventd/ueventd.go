// Package ueventd is the device manager behind the ueventd command: it
// applies /etc/ueventd.rules to device events, loads the modules devices
// ask for, answers firmware requests, and runs the coldplug-then-hotplug
// sequence with a readiness notification in between.
package ueventd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/svinit/svinit/pkg/coldplug"
	"github.com/svinit/svinit/pkg/devrules"
	"github.com/svinit/svinit/pkg/uevent"
	"golang.org/x/sys/unix"
)

// ModuleLoader loads the modules matching a MODALIAS; it logs on its own.
type ModuleLoader interface {
	LoadAlias(modalias, devpath string) error
}

// Config configures a Daemon. Zero values take the defaults shown.
type Config struct {
	SysRoot      string   // /sys
	DevRoot      string   // /dev
	FirmwareDirs []string // searched in order for FIRMWARE= requests
	Rules        []devrules.Rule
	Modules      ModuleLoader // nil: no module loading
	Log          io.Writer    // log lines and the output of run= commands (stdout)
	Verbose      bool         // log every event
	// Run starts argv with env and waits for it; nil runs it with
	// os/exec, stdin on /dev/null and stdout/stderr on Log.
	Run func(argv, env []string) error
	// MaxJobs bounds concurrent module and firmware loads, and
	// separately concurrent run= commands (default 16 each).
	MaxJobs int
}

// Daemon handles events. Its methods are safe for concurrent use.
type Daemon struct {
	cfg    Config
	logMu  sync.Mutex
	wg     sync.WaitGroup // module and firmware loads
	cmdWg  sync.WaitGroup // run= commands
	sem    chan struct{}  // bounds module and firmware loads
	cmdSem chan struct{}  // bounds run= commands

	mu     sync.Mutex
	rules  []devrules.Rule
	links  map[string][]link        // devpath -> symlinks made for it
	chains map[string]chan struct{} // devpath -> last queued command job
}

type link struct{ path, target string }

// New returns a daemon for cfg.
func New(cfg Config) *Daemon {
	if cfg.SysRoot == "" {
		cfg.SysRoot = "/sys"
	}
	if cfg.DevRoot == "" {
		cfg.DevRoot = "/dev"
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.MaxJobs <= 0 {
		cfg.MaxJobs = 16
	}
	d := &Daemon{cfg: cfg, rules: cfg.Rules, links: map[string][]link{}, chains: map[string]chan struct{}{}, sem: make(chan struct{}, cfg.MaxJobs), cmdSem: make(chan struct{}, cfg.MaxJobs)}
	if d.cfg.Run == nil {
		d.cfg.Run = d.exec
	}
	return d
}

// Logf writes one "ueventd: ..." line to the log.
func (d *Daemon) Logf(format string, a ...any) {
	d.logMu.Lock()
	defer d.logMu.Unlock()
	fmt.Fprintf(d.cfg.Log, "ueventd: "+format+"\n", a...)
}

// SetRules replaces the rules (e.g. after SIGHUP).
func (d *Daemon) SetRules(r []devrules.Rule) {
	d.mu.Lock()
	d.rules = r
	d.mu.Unlock()
}

// SetModules attaches the module loader (nil: no module loading).
func (d *Daemon) SetModules(m ModuleLoader) {
	d.mu.Lock()
	d.cfg.Modules = m
	d.mu.Unlock()
}

// Wait blocks until every module load and firmware load started so far
// has finished. It does not wait for run= commands: one that never
// exits must not hold up readiness.
func (d *Daemon) Wait() { d.wg.Wait() }

// WaitCommands blocks until every run= command started so far has
// finished.
func (d *Daemon) WaitCommands() { d.cmdWg.Wait() }

func (d *Daemon) async(fn func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.sem <- struct{}{}
		defer func() { <-d.sem }()
		fn()
	}()
}

// Handle processes one event: the /dev node and symlinks synchronously,
// then module loading, firmware and run= commands in the background
// (commands of one device run one after another, in event order).
func (d *Daemon) Handle(ev *uevent.Event) {
	if d.cfg.Verbose {
		d.Logf("event %s", ev)
	}
	d.mu.Lock()
	rules, mods := d.rules, d.cfg.Modules
	d.mu.Unlock()
	res := devrules.Apply(rules, ev.Env)

	if name := ev.Env["DEVNAME"]; name != "" {
		switch ev.Action {
		case "add", "change", "move", "online", "bind":
			d.node(ev, name, res)
		case "remove":
			d.removeNode(ev, name)
		}
	}
	if ev.Action == "remove" {
		d.removeLinks(ev.DevPath)
	}
	if ev.Action == "add" && ev.Env["MODALIAS"] != "" && mods != nil {
		alias, devpath := ev.Env["MODALIAS"], ev.DevPath
		d.async(func() { _ = mods.LoadAlias(alias, devpath) })
	}
	if ev.Action == "add" && ev.Env["FIRMWARE"] != "" {
		d.async(func() { d.firmware(ev) })
	}
	if len(res.Run) > 0 {
		d.queueRun(ev, res.Run)
	}
}

// node creates (if devtmpfs did not) and adjusts the device node.
func (d *Daemon) node(ev *uevent.Event, name string, res devrules.Result) {
	path, err := d.devPath(name)
	if err != nil {
		d.Logf("%s: DEVNAME=%s: %v", ev.DevPath, name, err)
		return
	}
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) && ev.Action == "add" {
		if err := d.mknod(ev, path, res.Mode); err != nil {
			d.Logf("%s: %v", ev.DevPath, err)
			return
		}
	}
	if res.Mode >= 0 {
		if err := os.Chmod(path, os.FileMode(res.Mode&0o777)|modeBits(res.Mode)); err != nil {
			d.Logf("%s: rules line %s: %v", ev.DevPath, lines(res.Lines), err)
		}
	}
	if res.UID >= 0 || res.GID >= 0 {
		if err := os.Lchown(path, res.UID, res.GID); err != nil {
			d.Logf("%s: rules line %s: %v", ev.DevPath, lines(res.Lines), err)
		}
	}
	for _, l := range res.Symlinks {
		d.symlink(ev, path, l)
	}
}

func modeBits(m int) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func lines(ls []int) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = strconv.Itoa(l)
	}
	return strings.Join(s, ",")
}

// devPath maps a DEVNAME (or symlink name) to a path inside DevRoot,
// refusing anything that would leave it.
func (d *Daemon) devPath(name string) (string, error) {
	if name == "" || filepath.IsAbs(name) {
		return "", fmt.Errorf("%q is not a name relative to %s", name, d.cfg.DevRoot)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." || c == "." || c == "" {
			return "", fmt.Errorf("%q is not a clean name relative to %s", name, d.cfg.DevRoot)
		}
	}
	return filepath.Join(d.cfg.DevRoot, name), nil
}

func (d *Daemon) mknod(ev *uevent.Event, path string, ruleMode int) error {
	maj, err1 := strconv.ParseUint(ev.Env["MAJOR"], 10, 32)
	min, err2 := strconv.ParseUint(ev.Env["MINOR"], 10, 32)
	if err1 != nil || err2 != nil {
		return nil // not a device node
	}
	mode := uint32(0o600)
	if m, err := strconv.ParseUint(ev.Env["DEVMODE"], 8, 32); err == nil && m <= 0o7777 {
		mode = uint32(m)
	}
	if ruleMode >= 0 {
		mode = uint32(ruleMode)
	}
	kind := uint32(unix.S_IFCHR)
	if ev.Subsystem == "block" {
		kind = unix.S_IFBLK
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := unix.Mknod(path, kind|mode, int(unix.Mkdev(uint32(maj), uint32(min)))); err != nil && err != unix.EEXIST {
		return fmt.Errorf("mknod %s: %w", path, err)
	}
	return os.Chmod(path, os.FileMode(mode&0o777)|modeBits(int(mode)))
}

// removeNode deletes a node that is still there at "remove" time:
// devtmpfs deletes its own nodes before the kernel sends the event, so a
// node left over is one ueventd made.
func (d *Daemon) removeNode(ev *uevent.Event, name string) {
	path, err := d.devPath(name)
	if err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR && st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return
	}
	maj, _ := strconv.ParseUint(ev.Env["MAJOR"], 10, 32)
	min, _ := strconv.ParseUint(ev.Env["MINOR"], 10, 32)
	if unix.Major(uint64(st.Rdev)) == uint32(maj) && unix.Minor(uint64(st.Rdev)) == uint32(min) {
		os.Remove(path)
	}
}

func (d *Daemon) symlink(ev *uevent.Event, node, name string) {
	path, err := d.devPath(name)
	if err != nil {
		d.Logf("%s: symlink: %v", ev.DevPath, err)
		return
	}
	if path == node {
		return
	}
	target, err := filepath.Rel(filepath.Dir(path), node)
	if err != nil {
		target = node
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 {
			d.Logf("%s: symlink %s: a file that is not a symlink is in the way", ev.DevPath, path)
			return
		}
		if cur, _ := os.Readlink(path); cur == target {
			d.remember(ev.DevPath, link{path, target})
			return
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		d.Logf("%s: symlink %s: %v", ev.DevPath, path, err)
		return
	}
	tmp := path + ".ueventd-tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		d.Logf("%s: symlink %s: %v", ev.DevPath, path, err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		d.Logf("%s: symlink %s: %v", ev.DevPath, path, err)
		return
	}
	d.remember(ev.DevPath, link{path, target})
}

func (d *Daemon) remember(devpath string, l link) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.links[devpath] {
		if x == l {
			return
		}
	}
	d.links[devpath] = append(d.links[devpath], l)
}

func (d *Daemon) removeLinks(devpath string) {
	d.mu.Lock()
	ls := d.links[devpath]
	delete(d.links, devpath)
	d.mu.Unlock()
	for _, l := range ls {
		if cur, err := os.Readlink(l.path); err == nil && cur == l.target {
			os.Remove(l.path)
		}
	}
}

// queueRun runs the commands after any earlier commands of the same
// device have finished, so add/remove order is kept per device.
func (d *Daemon) queueRun(ev *uevent.Event, cmds [][]string) {
	env := append(os.Environ(), ev.Environ()...)
	done := make(chan struct{})
	d.mu.Lock()
	prev := d.chains[ev.DevPath]
	d.chains[ev.DevPath] = done
	d.mu.Unlock()
	d.cmdWg.Add(1)
	go func() {
		defer d.cmdWg.Done()
		if prev != nil {
			<-prev
		}
		d.cmdSem <- struct{}{}
		for _, argv := range cmds {
			if err := d.cfg.Run(argv, env); err != nil {
				d.Logf("%s %s: run %s: %v", ev.Action, ev.DevPath, argv[0], err)
			}
		}
		<-d.cmdSem
		close(done)
		d.mu.Lock()
		if d.chains[ev.DevPath] == done {
			delete(d.chains, ev.DevPath)
		}
		d.mu.Unlock()
	}()
}

// exec runs a command and reaps it (Wait), so none is left a zombie.
func (d *Daemon) exec(argv, env []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	w := &lockedWriter{d: d}
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

type lockedWriter struct{ d *Daemon }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.d.logMu.Lock()
	defer w.d.logMu.Unlock()
	return w.d.cfg.Log.Write(p)
}

// firmware answers a request through the sysfs fallback protocol:
// "1" to loading, the image to data, "0" to loading; or "-1" to loading
// when no file is found, so the kernel does not wait for its timeout.
func (d *Daemon) firmware(ev *uevent.Event) {
	name := ev.Env["FIRMWARE"]
	dir := filepath.Join(d.cfg.SysRoot, ev.DevPath)
	loading := filepath.Join(dir, "loading")
	if _, err := os.Stat(loading); err != nil {
		// The kernel loaded it directly, or this is not a fallback request.
		if d.cfg.Verbose {
			d.Logf("firmware %s for %s: no %s, nothing to do", name, ev.DevPath, loading)
		}
		return
	}
	bad := name == "" || filepath.IsAbs(name)
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			bad = true
		}
	}
	var file string
	var tried []string
	if !bad {
		for _, fd := range d.cfg.FirmwareDirs {
			p := filepath.Join(fd, name)
			tried = append(tried, p)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				file = p
				break
			}
		}
	}
	if file == "" {
		why := "not found in " + strings.Join(tried, ", ")
		if bad {
			why = "refusing a name outside the firmware directories"
		}
		if err := os.WriteFile(loading, []byte("-1"), 0); err != nil {
			d.Logf("firmware %s requested by %s: %s; and aborting the request failed: %v", name, ev.DevPath, why, err)
			return
		}
		d.Logf("firmware %s requested by %s: %s; told the kernel to give up", name, ev.DevPath, why)
		return
	}
	n, err := d.feedFirmware(dir, file)
	if err != nil {
		os.WriteFile(loading, []byte("-1"), 0)
		d.Logf("firmware %s requested by %s: loading %s failed: %v", name, ev.DevPath, file, err)
		return
	}
	d.Logf("firmware %s requested by %s: loaded %s (%d bytes)", name, ev.DevPath, file, n)
}

func (d *Daemon) feedFirmware(dir, file string) (int64, error) {
	src, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	if err := os.WriteFile(filepath.Join(dir, "loading"), []byte("1"), 0); err != nil {
		return 0, err
	}
	dst, err := os.OpenFile(filepath.Join(dir, "data"), os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, err
	}
	return n, os.WriteFile(filepath.Join(dir, "loading"), []byte("0"), 0)
}

// Coldplug walks SysRoot/devices and handles an "add" event for every
// device, then waits for the resulting work to finish.
func (d *Daemon) Coldplug() error {
	n := 0
	skipped, err := coldplug.Walk(d.cfg.SysRoot, func(ev *uevent.Event) error {
		n++
		d.Handle(ev)
		return nil
	})
	for _, s := range skipped {
		d.Logf("coldplug: skipped: %v", s)
	}
	d.Wait()
	if err != nil {
		return fmt.Errorf("coldplug: %w", err)
	}
	if d.cfg.Verbose {
		d.Logf("coldplug: %d devices", n)
	}
	return nil
}

// Source is where hotplug events come from (a *uevent.Conn).
type Source interface {
	Read() (*uevent.Event, error)
	Pending(timeoutMs int) (bool, error)
}

// maxSettleRounds bounds how often Serve drains queued events before
// declaring readiness, so a device that never stops sending events
// cannot hold readiness back forever.
const maxSettleRounds = 64

// Serve runs the whole sequence on an already open source: coldplug,
// then handle what the coldplug itself caused (devices that appeared
// when their bus driver was loaded) until the socket is quiet, then
// ready(), then events until a read fails for good.
func (d *Daemon) Serve(src Source, ready func()) error {
	if err := d.Coldplug(); err != nil {
		return err
	}
	for round := 0; round < maxSettleRounds; round++ {
		n, err := d.drain(src)
		if err != nil {
			return err
		}
		d.Wait()
		if n == 0 {
			break
		}
	}
	if ready != nil {
		ready()
	}
	for {
		if err := d.readOne(src); err != nil {
			return err
		}
	}
}

func (d *Daemon) drain(src Source) (int, error) {
	n := 0
	for {
		p, err := src.Pending(0)
		if err != nil {
			return n, err
		}
		if !p {
			return n, nil
		}
		if err := d.readOne(src); err != nil {
			return n, err
		}
		n++
	}
}

func (d *Daemon) readOne(src Source) error {
	ev, err := src.Read()
	switch {
	case err == nil:
		d.Handle(ev)
		return nil
	case errors.Is(err, uevent.ErrOverflow):
		d.Logf("%v; rescanning /sys to catch up", err)
		return d.Coldplug()
	case errors.Is(err, uevent.ErrSkipped):
		if d.cfg.Verbose {
			d.Logf("%v", err)
		}
		return nil
	default:
		return err
	}
}
