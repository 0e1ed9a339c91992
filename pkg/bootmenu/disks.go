package bootmenu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/kmod"
	"github.com/svinit/svinit/pkg/rootfs"

	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
)

// DefaultMountDir is where the partitions are mounted, one directory
// per device name.
const DefaultMountDir = "/run/svboot"

// mountFlags: read-only, and nothing on it runs here.
const mountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC

// Disks finds the entries on the local block devices: it mounts every
// file system it recognises read-only under MountDir and parses each.
type Disks struct {
	Scanner  *rootfs.Scanner // the block devices in sysfs and their file systems
	MountDir string          // DefaultMountDir
	// LoadFS makes a file system type mountable (its module); nil: no
	// module is loaded.
	LoadFS  func(fstype string) error
	Mount   func(dev, dir, fstype string) error // nil: mount(2) read-only
	Unmount func(dir string) error              // nil: umount2(MNT_DETACH)
	Log     io.Writer                           // what was mounted and found
	Verbose bool                                // also why a partition holds no entries

	mounted  []string
	pool     *mount.Pool
	reported map[string]string // what was said about each device
}

// NewDisks returns Disks on the running system.
func NewDisks(log io.Writer) *Disks {
	return &Disks{Scanner: rootfs.NewScanner(), MountDir: DefaultMountDir, LoadFS: LoadFS, Log: log}
}

func (d *Disks) logf(format string, a ...any) {
	if d.Log != nil {
		fmt.Fprintf(d.Log, "svboot: "+format+"\n", a...)
	}
}

// Find mounts each block device holding a file system (whole disks and
// partitions alike) and returns the entries found on them, in menu
// order (Order). The file systems stay mounted until Close: the
// entries' kernels are read from them when loaded.
func (d *Disks) Find(ctx context.Context) ([]Entry, error) {
	if d.pool == nil {
		d.pool = &mount.Pool{}
	}
	if d.reported == nil {
		d.reported = map[string]string{}
	}
	// A scanner of its own each time: partition tables are read anew.
	sc := &rootfs.Scanner{Sys: d.Scanner.Sys, Dev: d.Scanner.Dev}
	devs, err := sc.All()
	if err != nil {
		return nil, fmt.Errorf("list the block devices: %w (is sysfs mounted?)", err)
	}
	var bdevs block.BlockDevices
	for _, dev := range devs {
		if dev.FS.Type != "" {
			bdevs = append(bdevs, &block.BlockDev{Name: dev.Name, FSType: dev.FS.Type, FsUUID: dev.FS.UUID})
		}
	}
	var all []Entry
	for _, dev := range devs {
		if dev.FS.Type == "" {
			continue
		}
		dir, err := d.mount(dev)
		if err != nil {
			d.report(dev.Name, fmt.Sprintf("%s (%s): %v; skipped", dev.Name, dev.FS.Type, err))
			continue
		}
		entries, errs := ParseDir(ctx, dir, dev.Name, bdevs, d.pool)
		if d.Verbose {
			for _, e := range errs {
				d.logf("%v", e)
			}
		}
		d.report(dev.Name, fmt.Sprintf("%s (%s%s): %s", dev.Name, dev.FS.Type, labelOf(dev), countByFormat(entries)))
		all = append(all, entries...)
	}
	return Order(all), nil
}

// report says what a device holds, once (Find may look again).
func (d *Disks) report(name, line string) {
	if d.reported[name] == line {
		return
	}
	d.reported[name] = line
	d.logf("%s", line)
}

// FindWait is Find; then, while it found no entry, Find again each time
// the kernel announces a block device (ev: opened before the call, so
// none is missed), until wait has passed. Disks whose driver probes in
// the background (NVMe, USB storage) may appear after svboot starts.
func (d *Disks) FindWait(ctx context.Context, ev rootfs.Events, wait time.Duration) ([]Entry, error) {
	deadline := time.Now().Add(wait)
	entries, err := d.Find(ctx)
	if len(entries) > 0 || err != nil || ev == nil || wait <= 0 {
		return entries, err
	}
	d.logf("no boot entries yet; waiting up to %v for more disks", wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return entries, nil
		}
		name, ok, rescan, err := ev.Next(left)
		if err != nil {
			return entries, fmt.Errorf("waiting for disks: %w", err)
		}
		if !ok {
			return entries, nil
		}
		if d.Verbose && !rescan {
			d.logf("%s appeared", name)
		}
		if entries, err = d.Find(ctx); len(entries) > 0 || err != nil {
			return entries, err
		}
	}
}

func labelOf(dev rootfs.Device) string {
	if dev.FS.Label != "" {
		return " " + dev.FS.Label
	}
	return ""
}

// countByFormat says what a partition holds: "2 BLS entries, 1 GRUB
// entry" or "no boot entries".
func countByFormat(entries []Entry) string {
	var parts []string
	for _, f := range []string{FormatBLS, FormatGRUB, FormatSyslinux} {
		n := 0
		for _, e := range entries {
			if e.Format == f {
				n++
			}
		}
		switch {
		case n == 1:
			parts = append(parts, "1 "+f+" entry")
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %s entries", n, f))
		}
	}
	if len(parts) == 0 {
		return "no boot entries"
	}
	return strings.Join(parts, ", ")
}

// mount mounts dev read-only on MountDir/NAME (once).
func (d *Disks) mount(dev rootfs.Device) (string, error) {
	dir := filepath.Join(d.MountDir, dev.Name)
	for _, m := range d.pool.MountPoints {
		if m.Device == dev.Path {
			return m.Path, nil
		}
	}
	if d.LoadFS != nil {
		if err := d.LoadFS(dev.FS.Type); err != nil {
			return "", fmt.Errorf("file system %s: %w", dev.FS.Type, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	mnt := d.Mount
	if mnt == nil {
		mnt = func(dev, dir, fstype string) error { return unix.Mount(dev, dir, fstype, mountFlags, "") }
	}
	start := time.Now()
	if err := mnt(dev.Path, dir, dev.FS.Type); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("mount %s read-only on %s: %w", dev.Path, dir, err)
	}
	if d.Verbose {
		d.logf("mounted %s (%s) read-only on %s in %v", dev.Path, dev.FS.Type, dir, time.Since(start).Round(time.Microsecond))
	}
	d.mounted = append(d.mounted, dir)
	// The GRUB parser's searches reuse it through the pool.
	d.pool.Add(&mount.MountPoint{Path: dir, Device: dev.Path, FSType: dev.FS.Type, Flags: mountFlags})
	return dir, nil
}

// Close unmounts what Find mounted (and what a GRUB config's search
// mounted), lazily: a file still open goes away with its last user.
func (d *Disks) Close() error {
	umount := d.Unmount
	if umount == nil {
		umount = func(dir string) error { return unix.Unmount(dir, unix.MNT_DETACH) }
	}
	var errs []error
	if d.pool != nil {
		for _, m := range d.pool.MountPoints {
			if err := umount(m.Path); err != nil {
				errs = append(errs, fmt.Errorf("unmount %s: %w", m.Path, err))
				continue
			}
			os.Remove(m.Path)
		}
		d.pool.MountPoints = nil
	}
	d.mounted = nil
	return errors.Join(errs...)
}

// nlsModules are what a FAT file system asks the kernel for when it is
// mounted (the code page and the character sets of Debian's defaults):
// the kernel would run modprobe for them, which an initramfs may not
// have.
var nlsModules = []string{"nls_cp437", "nls_ascii", "nls_utf8", "nls_iso8859_1"}

// LoadFS makes fstype mountable on the running system: its module (and,
// for vfat, the character set modules it asks for) from /lib/modules.
func LoadFS(fstype string) error {
	if err := rootfs.LoadFSModule(fstype, "/proc/filesystems", "/lib/modules", "/sys"); err != nil {
		return err
	}
	if fstype == "vfat" || fstype == "msdos" {
		loadModules(nlsModules)
	}
	return nil
}

// loadModules loads the modules of names the image has, quietly: one
// that is built in, missing or fails is the mount's business.
func loadModules(names []string) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return
	}
	idx, err := kmod.LoadIndex(filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:])))
	if err != nil {
		return
	}
	loaded, _ := kmod.ProcModules("/proc/modules")
	l := kmod.NewLoader(idx, kmod.LoaderOptions{Loaded: loaded, IsLoaded: kmod.SysfsLoaded("/sys")})
	for _, n := range names {
		if _, ok := idx.Deps[n]; ok {
			l.Load(n, "for a FAT file system")
		}
	}
}
