// Package shutdown is svinit's way down: the poweroff, reboot and halt
// commands (Request), the command svscan's signal hooks run
// (svinit-shutdown: Hook), and the final stage process 1 runs once
// svscan has stopped (svinit-final: Final). Every system call goes
// through injectable functions so the logic is tested unprivileged.
package shutdown

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/tai64n"
)

// An Action is how the machine ends.
type Action int

// The actions, in no particular order.
const (
	None Action = iota
	Poweroff
	Reboot
	Halt
	// Switch hands the machine over to the real root mounted at
	// bootfs.RootMount: the final stage moves the kernel file systems
	// there, deletes the initramfs and execs the real root's init
	// (FinalSys.SwitchRoot) instead of calling reboot(2).
	Switch
	// Kexec is a reboot into the kernel loaded for kexec (Load): the
	// same way down, ending in reboot(2) with LINUX_REBOOT_CMD_KEXEC.
	Kexec
)

// DefaultAction is what the final stage does when nobody recorded an
// action (svscan was stopped some other way, e.g. svscanctl -t).
const DefaultAction = Reboot

func (a Action) String() string {
	switch a {
	case Poweroff:
		return "poweroff"
	case Reboot:
		return "reboot"
	case Halt:
		return "halt"
	case Switch:
		return "switch"
	case Kexec:
		return "kexec"
	}
	return "none"
}

// ParseAction parses "poweroff", "reboot", "halt", "switch" or "kexec".
func ParseAction(s string) (Action, error) {
	switch s {
	case "poweroff":
		return Poweroff, nil
	case "reboot":
		return Reboot, nil
	case "halt":
		return Halt, nil
	case "switch":
		return Switch, nil
	case "kexec":
		return Kexec, nil
	}
	return None, fmt.Errorf("unknown action %q: want poweroff, reboot, halt, switch or kexec", s)
}

// Signal is the signal that asks process 1 for the action, the way
// s6-linux-init does it (none for Switch and Kexec, which
// svinit-switch-root and RequestKexec ask for through svinit-shutdown).
func (a Action) Signal() unix.Signal {
	switch a {
	case Poweroff:
		return unix.SIGUSR1
	case Reboot:
		return unix.SIGINT
	case Halt:
		return unix.SIGUSR2
	}
	return 0
}

// RebootCmd is the reboot(2) command carrying the action out.
func (a Action) RebootCmd() int {
	switch a {
	case Poweroff:
		return unix.LINUX_REBOOT_CMD_POWER_OFF
	case Reboot:
		return unix.LINUX_REBOOT_CMD_RESTART
	case Halt:
		return unix.LINUX_REBOOT_CMD_HALT
	case Kexec:
		return unix.LINUX_REBOOT_CMD_KEXEC
	}
	return 0
}

// A Record is what svinit-shutdown leaves for the final stage: the
// action, and when it was asked for.
type Record struct {
	Action Action
	Since  time.Time // zero when unknown
}

// Marshal gives the record file's content: the action name on the first
// line, the TAI64N label of the request on the second.
func (r Record) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString(r.Action.String())
	b.WriteByte('\n')
	if !r.Since.IsZero() {
		b.WriteString(tai64n.FromTime(r.Since).Label())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseRecord reads a record file's content. The time line is optional.
func ParseRecord(b []byte) (Record, error) {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	a, err := ParseAction(strings.TrimSpace(lines[0]))
	if err != nil {
		return Record{}, err
	}
	r := Record{Action: a}
	if len(lines) > 1 {
		if st, err := tai64n.ParseLabel(strings.TrimSpace(lines[1])); err == nil {
			r.Since = st.Time()
		}
	}
	return r, nil
}

// ReadRecord reads the record at path. A missing file gives a None
// action and no error.
func ReadRecord(path string) (Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Record{}, nil
	}
	if err != nil {
		return Record{}, err
	}
	r, err := ParseRecord(b)
	if err != nil {
		return Record{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// WriteRecord writes the record at path atomically (temporary file in
// the same directory, then rename), creating the directory.
func WriteRecord(path string, r Record) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".shutdown.tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(r.Marshal())
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
