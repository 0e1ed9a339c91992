package bootfs

import (
	"fmt"
	"strings"
	"time"
)

// The real root: where it is mounted before the switch, and defaults.
const (
	// RootMount is where the real root is mounted in the initramfs
	// before the switch (a directory stage 2 creates).
	RootMount = "/sysroot"
	// DefaultInit is what the real root runs as process 1 without init=.
	DefaultInit = "/sbin/init"
	// DefaultRootTimeout bounds the wait for the root device without
	// rootwait or rootdelay=.
	DefaultRootTimeout = 30 * time.Second
	// MaxRootDelay bounds rootdelay= (an hour, in seconds).
	MaxRootDelay = 3600
)

// Keeping the supervision tree across the switch (svinit.keep).
const (
	// RealRootRc holds the real root's service definitions (s6-rc's
	// source format, svrc's default -c), brought up after the switch.
	RealRootRc = "/etc/svinit/rc"
	// KeepBundle is what is brought up from RealRootRc.
	KeepBundle = "default"
	// DiskCatchAllLogDir is where the catch-all log goes on, on the
	// real root's disk, after the switch (CatchAllLogDir's files are
	// copied there first).
	DiskCatchAllLogDir = "/var/log/svinit/catch-all"
	// RestartOnSwitchFile, in a service directory, has the service
	// restarted after the switch, to run from the real root.
	RestartOnSwitchFile = "restart-on-switch"
)

// KeepPrograms are what the real root must have for svinit.keep: after
// the switch everything supervised runs from it (the catch-all logger,
// the scanner's hooks, the way down).
var KeepPrograms = []string{"/bin/execlineb", "/bin/svlog", "/bin/svscan", "/bin/svinit-shutdown", "/bin/svinit-final"}

// RestartOnSwitch are the early services restarted after the switch:
// they start programs from the initramfs (the console's shells, the
// device manager's module loading), which the switch deletes.
var RestartOnSwitch = []string{"udev", "early-getty"}

// SwitchMounts are the file systems of EarlyMounts that a switch to the
// real root moves there (those mounted under them move along); the
// initramfs's other mounts are unmounted before the switch.
var SwitchMounts = []string{"/dev", "/proc", "/sys", "/run"}

// Root is the real root as the kernel command line describes it: the
// parameters the kernel itself reads (root=, rootfstype=, rootflags=,
// ro, rw, rootwait, rootdelay=, init=), which svinit reads in their place
// since with an initramfs the kernel leaves them to it.
type Root struct {
	Spec      string // root=: /dev/NAME, UUID=, LABEL=, PARTUUID=, PARTLABEL= ("" = no real root)
	FSType    string // rootfstype=: a type or a comma-separated list ("" = from the superblock)
	Flags     string // rootflags=: file system options
	ReadWrite bool   // rw (the kernel's default, as here, is ro)
	Wait      bool   // rootwait: wait for the device for ever
	Delay     int    // rootdelay=SECONDS: how long to wait for it, when HasDelay
	HasDelay  bool
	Init      string // init=: the real root's init ("" = DefaultInit)
}

// Timeout is how long to wait for the root device: negative for ever
// (rootwait), rootdelay= seconds when given (0: look once), else
// DefaultRootTimeout.
// As svinit's wait ends as soon as the device appears, rootdelay= is an
// upper bound here, not the kernel's fixed pause.
func (r Root) Timeout() time.Duration {
	switch {
	case r.Wait:
		return -1
	case r.HasDelay:
		return time.Duration(r.Delay) * time.Second
	}
	return DefaultRootTimeout
}

// InitPath is init= or DefaultInit.
func (r Root) InitPath() string {
	if r.Init != "" {
		return r.Init
	}
	return DefaultInit
}

// rootKeys are the root= forms besides /dev/NAME.
var rootKeys = []string{"UUID=", "LABEL=", "PARTUUID=", "PARTLABEL="}

// ValidRootSpec reports whether s is a root= value svinit can look for:
// /dev/NAME, UUID=, LABEL=, PARTUUID= or PARTLABEL=, each with a value.
func ValidRootSpec(s string) error {
	if name, ok := strings.CutPrefix(s, "/dev/"); ok {
		if name == "" || strings.Contains(name, "..") {
			return fmt.Errorf("want /dev/NAME")
		}
		return nil
	}
	for _, k := range rootKeys {
		if v, ok := strings.CutPrefix(s, k); ok {
			if v == "" {
				return fmt.Errorf("%s with nothing after it", k)
			}
			return nil
		}
	}
	return fmt.Errorf("want /dev/NAME, UUID=, LABEL=, PARTUUID= or PARTLABEL=")
}
