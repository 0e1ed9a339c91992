// Package bootmenu is the boot service's logic (svboot): finding the
// boot entries of the operating systems installed on local disks (GRUB
// configs, syslinux/extlinux configs and Boot Loader Specification
// entries, parsed by u-root's pkg/boot family), the console menu with a
// default and a countdown, and the non-interactive choice by title or
// number. Loading the chosen kernel and the kexec action are
// pkg/shutdown's. See docs/svboot.md.
package bootmenu

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/bls"
	"github.com/u-root/u-root/pkg/boot/grub"
	"github.com/u-root/u-root/pkg/boot/syslinux"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"github.com/u-root/u-root/pkg/ulog"
)

// An Entry is one thing the menu offers: an operating system a config
// file on a partition names.
type Entry struct {
	Title  string       // the entry's title in its config
	Device string       // the partition it was found on: vda1
	Format string       // FormatBLS, FormatGRUB or FormatSyslinux
	Image  boot.OSImage // kernel, initrd and command line, for Load
}

// The config formats.
const (
	FormatBLS      = "BLS"
	FormatGRUB     = "GRUB"
	FormatSyslinux = "syslinux"
)

// Cmdline is the kernel command line the entry boots with ("" when the
// image is not a Linux kernel).
func (e Entry) Cmdline() string {
	if li, ok := e.Image.(*boot.LinuxImage); ok {
		return li.Cmdline
	}
	return ""
}

// ParseDir returns the entries of the file system mounted at dir (found
// on device): Boot Loader Specification entries (loader/entries,
// boot/loader/entries), the GRUB config (boot/grub/grub.cfg and the
// other places GRUB keeps it, EFI/*/grub.cfg), and the syslinux,
// isolinux or extlinux config, in that order, each format's default
// first. devs and pool let a GRUB config reach other partitions
// (search --fs-uuid, ...); pool reuses what is mounted already. The
// errors are why each format found nothing, for a log.
func ParseDir(ctx context.Context, dir, device string, devs block.BlockDevices, pool *mount.Pool) ([]Entry, []error) {
	var out []Entry
	var errs []error
	add := func(format string, imgs []boot.OSImage, err error) {
		if err != nil && len(imgs) == 0 {
			errs = append(errs, fmt.Errorf("%s %s: %w", device, format, err))
		}
		for _, img := range imgs {
			out = append(out, Entry{Title: img.Label(), Device: device, Format: format, Image: img})
		}
	}
	imgs, err := bls.ScanBLSEntries(ulog.Null, dir, nil, "")
	add(FormatBLS, imgs, err)
	if pool == nil {
		pool = &mount.Pool{}
	}
	imgs, err = grub.ParseLocalConfig(ctx, dir, devs, pool)
	add(FormatGRUB, imgs, err)
	imgs, err = syslinux.ParseLocalConfig(ctx, dir)
	add(FormatSyslinux, imgs, err)
	return out, errs
}

// Order puts entries in menu order: by rank, highest first (u-root's
// ranks: Boot Loader Specification entries before GRUB's and
// syslinux's, a GRUB config's saved default above its other BLS
// entries), keeping the order found otherwise; and drops an entry equal
// to one before it (same title, kernel command line, device; a GRUB
// config with blscfg lists the BLS entries again).
func Order(entries []Entry) []Entry {
	out := make([]Entry, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		k := e.Device + "\x00" + e.Title + "\x00" + e.Cmdline()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Image.Rank() > out[j].Image.Rank() })
	return out
}

// Pick finds the entry spec names, as svinit.boot= gives it: a number
// (1 is the first entry), else a title, matched exactly, else without
// regard to case when only one entry matches so.
func Pick(entries []Entry, spec string) (int, error) {
	if n, err := strconv.Atoi(spec); err == nil {
		if n >= 1 && n <= len(entries) {
			return n - 1, nil
		}
		return -1, fmt.Errorf("no entry %d: there are %d (%s)", n, len(entries), List(entries))
	}
	for i, e := range entries {
		if e.Title == spec {
			return i, nil
		}
	}
	found := -1
	for i, e := range entries {
		if strings.EqualFold(e.Title, spec) {
			if found >= 0 {
				return -1, fmt.Errorf("%q names more than one entry (%s): give the exact title or a number", spec, List(entries))
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Errorf("no entry titled %q (%s)", spec, List(entries))
	}
	return found, nil
}

// List names the entries on one line: `1) "A", 2) "B"`.
func List(entries []Entry) string {
	if len(entries) == 0 {
		return "no entries"
	}
	var b strings.Builder
	for i, e := range entries {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d) %q", i+1, e.Title)
	}
	return b.String()
}
