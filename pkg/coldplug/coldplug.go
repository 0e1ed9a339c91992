// Package coldplug finds the devices the kernel created before the device
// manager started listening, by walking sysfs, and turns each into a
// synthetic "add" uevent.
package coldplug

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/svinit/svinit/pkg/uevent"
)

// Walk visits every device under sysRoot/devices that has a "uevent"
// file, parents before children, and calls fn with an "add" event built
// from that file (MODALIAS from the device's "modalias" file when the
// uevent file has none) plus DEVPATH (relative to sysRoot, e.g.
// /devices/pci0000:00/0000:00:03.0), ACTION=add and SUBSYSTEM (the name
// of the "subsystem" link's target). Symbolic links are not followed, so
// the walk terminates on the real sysfs. A device whose uevent file
// cannot be read or parsed is reported to fn's caller through the
// returned error list and skipped; fn returning an error stops the walk.
func Walk(sysRoot string, fn func(*uevent.Event) error) (skipped []error, err error) {
	root := filepath.Join(sysRoot, "devices")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, werr error) error {
		if werr != nil {
			if path == root {
				return werr
			}
			skipped = append(skipped, werr)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || d.Name() != "uevent" || !d.Type().IsRegular() {
			return nil
		}
		dir := filepath.Dir(path)
		ev, perr := Device(sysRoot, dir)
		if perr != nil {
			skipped = append(skipped, perr)
			return nil
		}
		return fn(ev)
	})
	return skipped, err
}

// Device builds the "add" event of one device directory (an absolute
// path under sysRoot/devices).
func Device(sysRoot, dir string) (*uevent.Event, error) {
	b, err := os.ReadFile(filepath.Join(dir, "uevent"))
	if err != nil {
		return nil, err
	}
	env, err := uevent.ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "uevent"), err)
	}
	rel, err := filepath.Rel(sysRoot, dir)
	if err != nil {
		return nil, err
	}
	if _, ok := env["MODALIAS"]; !ok {
		// A few devices show their alias only as a "modalias" file
		// (e.g. /sys/devices/system/cpu, whose uevent file is empty).
		if b, err := os.ReadFile(filepath.Join(dir, "modalias")); err == nil {
			if m := strings.TrimSpace(string(b)); m != "" {
				env["MODALIAS"] = m
			}
		}
	}
	env["ACTION"] = "add"
	env["DEVPATH"] = "/" + filepath.ToSlash(rel)
	if target, err := os.Readlink(filepath.Join(dir, "subsystem")); err == nil {
		env["SUBSYSTEM"] = filepath.Base(target)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return uevent.New(env)
}

// Trigger asks the kernel to replay the "add" event of every device
// under sysRoot/devices by writing "add" to its uevent file. It is the
// alternative to Walk; ueventd does not use it by default (see
// docs/ueventd.md). It returns the errors of the writes that failed.
func Trigger(sysRoot string) []error {
	var errs []error
	_ = filepath.WalkDir(filepath.Join(sysRoot, "devices"), func(path string, d fs.DirEntry, werr error) error {
		if werr != nil {
			errs = append(errs, werr)
			return nil
		}
		if d.Name() == "uevent" && d.Type().IsRegular() {
			if err := os.WriteFile(path, []byte("add"), 0); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	return errs
}
