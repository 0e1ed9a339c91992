package rootfs

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/svinit/svinit/pkg/uevent"
)

// Events is where Wait learns that block devices appeared: the name of
// the next block device added or changed, or ok false when timeout
// passed first (timeout < 0: none). rescan asks for a full look (events
// were lost).
type Events interface {
	Next(timeout time.Duration) (name string, ok, rescan bool, err error)
	Close() error
}

// ErrNotFound is Wait's error when the timeout passed first.
var ErrNotFound = errors.New("root device not found")

// Wait returns the device spec names, looking at the devices already
// there and then at each block device as the kernel announces it: it
// returns as soon as the device shows up, with no polling. A negative
// timeout waits for ever; 0 looks once. On timeout it returns ErrNotFound and every device
// seen, for the message that helps choose root=.
func (s *Scanner) Wait(ev Events, spec string, timeout time.Duration) (Device, []Device, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	// The event source is open before this first look: a device added
	// meanwhile is in both, never in neither.
	look := func() (Device, bool, error) {
		devs, err := s.All()
		for _, d := range devs {
			if Matches(spec, d) {
				return d, true, nil
			}
		}
		return Device{}, false, err
	}
	if d, ok, _ := look(); ok {
		return d, nil, nil
	}
	for {
		left := time.Duration(-1)
		if !deadline.IsZero() {
			if left = time.Until(deadline); left <= 0 {
				break
			}
		}
		name, ok, rescan, err := ev.Next(left)
		if err != nil {
			return Device{}, nil, fmt.Errorf("waiting for %s: %w", spec, err)
		}
		if rescan {
			s.parts = nil
			if d, ok, _ := look(); ok {
				return d, nil, nil
			}
			continue
		}
		if !ok {
			break
		}
		delete(s.parts, name) // a disk's table may have changed
		if d := s.Device(name); Matches(spec, d) {
			return d, nil, nil
		}
	}
	s.parts = nil
	devs, _ := s.All()
	return Device{}, devs, ErrNotFound
}

// Uevents are the kernel's block device events on a netlink socket of
// our own (the kernel multicasts each event to every listener; ueventd
// gets its copy). With devtmpfs the kernel has made /dev/NAME before it
// sends the event.
type Uevents struct{ c *uevent.Conn }

// OpenUevents subscribes to the kernel's device events.
func OpenUevents() (*Uevents, error) {
	c, err := uevent.Open(1 << 20)
	if err != nil {
		return nil, err
	}
	return &Uevents{c: c}, nil
}

// Close closes the socket.
func (u *Uevents) Close() error { return u.c.Close() }

// Next implements Events.
func (u *Uevents) Next(timeout time.Duration) (string, bool, bool, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		ms := -1
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return "", false, false, nil
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		ready, err := u.c.Pending(ms)
		if err != nil {
			return "", false, false, err
		}
		if !ready {
			continue // the deadline check above ends it
		}
		e, err := u.c.Read()
		if errors.Is(err, uevent.ErrOverflow) {
			return "", true, true, nil
		}
		if errors.Is(err, uevent.ErrSkipped) {
			continue
		}
		if err != nil {
			return "", false, false, err
		}
		if e.Subsystem != "block" || (e.Action != "add" && e.Action != "change") {
			continue
		}
		name := e.Get("DEVNAME")
		if name == "" {
			name = filepath.Base(e.DevPath)
		}
		return name, true, false, nil
	}
}
