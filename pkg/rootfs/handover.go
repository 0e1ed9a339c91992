package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

// Finder finds the real root the kernel command line names and mounts
// it on bootfs.RootMount, ready for the switch (svinit-switch-root).
// Every system call goes through a field so tests run unprivileged.
type Finder struct {
	Root       bootfs.Root
	Scanner    *Scanner
	OpenEvents func() (Events, error)
	// LoadFS makes file system type fstype available (loads fs-TYPE
	// by alias); its error is reported, and the mount tried anyway.
	LoadFS    func(fstype string) error
	Mount     func(source, target, fstype string, flags uintptr, data string) error
	MountDir  string    // bootfs.RootMount
	Out       io.Writer // the catch-all log and the console
	Now       func() time.Time
	CheckInit func(newRoot, init string) error
	// Keep: the supervision tree is kept across the switch
	// (svinit.keep): the real root needs no init but what CheckKeep
	// checks.
	Keep      bool
	CheckKeep func(newRoot string) error
}

// NewFinder returns a Finder on the running system.
func NewFinder(root bootfs.Root, out io.Writer, loadFS func(string) error) *Finder {
	return &Finder{
		Root: root, Scanner: NewScanner(),
		OpenEvents: func() (Events, error) { return OpenUevents() },
		LoadFS:     loadFS, Mount: unix.Mount, MountDir: bootfs.RootMount,
		Out: out, Now: time.Now, CheckInit: CheckInit, CheckKeep: CheckKeep,
	}
}

func (f *Finder) logf(format string, a ...any) {
	fmt.Fprintf(f.Out, "svinit-switch-root: "+format+"\n", a...)
}

// Find waits for the root device and mounts it. On ErrNotFound it has
// printed every block device and file system it saw, so the user can
// choose root=.
func (f *Finder) Find() (Device, error) {
	r := f.Root
	start := f.Now()
	how := "for ever (rootwait)"
	if t := r.Timeout(); t >= 0 {
		how = "up to " + t.String()
	}
	f.logf("waiting %s for root=%s", how, r.Spec)
	ev, err := f.OpenEvents()
	if err != nil {
		return Device{}, fmt.Errorf("listen for block devices: %w", err)
	}
	defer ev.Close()
	d, devs, err := f.Scanner.Wait(ev, r.Spec, r.Timeout())
	if errors.Is(err, ErrNotFound) {
		var b strings.Builder
		fmt.Fprintf(&b, "svinit-switch-root: root=%s not found after %v. The block devices and file systems found:\n", r.Spec, r.Timeout())
		WriteTable(&b, devs)
		if len(devs) == 0 {
			b.WriteString("(none: the disk's driver may be missing from the image's modules)\n")
		}
		b.WriteString("svinit-switch-root: put one of these in root= (root=UUID=..., root=LABEL=..., root=PARTUUID=..., root=/dev/NAME); rootwait waits for ever, rootdelay=SECONDS sets the limit (default 30)\n")
		io.WriteString(f.Out, b.String())
		return Device{}, err
	}
	if err != nil {
		return Device{}, err
	}
	found := f.Now()
	f.logf("root=%s is %s (%s) after %v", r.Spec, d.Path, describe(d), found.Sub(start).Round(time.Millisecond))
	if err := f.mount(d); err != nil {
		return d, err
	}
	if f.Keep {
		if err := f.CheckKeep(f.MountDir); err != nil {
			unix.Unmount(f.MountDir, 0)
			return d, err
		}
		return d, nil
	}
	if err := f.CheckInit(f.MountDir, r.InitPath()); err != nil {
		unix.Unmount(f.MountDir, 0)
		return d, fmt.Errorf("the real root has no init: %w (init= names another)", err)
	}
	return d, nil
}

// describe is a device's type, UUID and labels for messages.
func describe(d Device) string {
	s := d.FS.Type
	if s == "" {
		s = "no file system recognised"
	}
	for _, kv := range [][2]string{{"UUID", d.FS.UUID}, {"LABEL", d.FS.Label}, {"PARTUUID", d.PartUUID}, {"PARTLABEL", d.PartLabel}} {
		if kv[1] != "" {
			s += " " + kv[0] + "=" + kv[1]
		}
	}
	return s
}

// mount mounts d on MountDir with each type of rootfstype= in turn (the
// type its superblock says without it), read-only unless rw.
func (f *Finder) mount(d Device) error {
	r := f.Root
	types := []string{d.FS.Type}
	if r.FSType != "" {
		types = strings.Split(r.FSType, ",")
	}
	if types[0] == "" {
		return fmt.Errorf("%s: no file system recognised on it; give rootfstype=", d.Path)
	}
	var flags uintptr
	mode := "read-write"
	if !r.ReadWrite {
		flags, mode = unix.MS_RDONLY, "read-only"
	}
	if err := os.MkdirAll(f.MountDir, 0o755); err != nil {
		return err
	}
	var errs []error
	for _, t := range types {
		start := f.Now()
		if f.LoadFS != nil {
			if err := f.LoadFS(t); err != nil {
				f.logf("file system %s: %v (trying to mount anyway)", t, err)
			}
		}
		err := f.Mount(d.Path, f.MountDir, t, flags, r.Flags)
		if err == nil {
			f.logf("mounted %s (%s) %s on %s in %v", d.Path, t, mode, f.MountDir, f.Now().Sub(start).Round(time.Microsecond))
			return nil
		}
		errs = append(errs, fmt.Errorf("mount -t %s %s %s: %w", t, d.Path, f.MountDir, err))
	}
	return errors.Join(errs...)
}
