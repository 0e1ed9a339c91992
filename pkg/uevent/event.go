// Package uevent reads kernel device events (uevents): the netlink
// socket the kernel broadcasts them on, and the two text forms they come
// in (the NUL-separated netlink datagram and the newline-separated
// "uevent" files of sysfs).
package uevent

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxSize bounds a uevent datagram. The kernel's own limit for the
// environment of one event is 2048 bytes (UEVENT_BUFFER_SIZE); the
// header adds at most a path. Anything larger is not from the kernel.
const MaxSize = 8192

// Event is one device event. Env holds every KEY=VALUE pair the kernel
// sent, including ACTION, DEVPATH, SUBSYSTEM and SEQNUM; the named fields
// are copies of the common ones for convenience.
type Event struct {
	Action    string // add, remove, change, move, online, offline, bind, unbind
	DevPath   string // /devices/..., relative to /sys
	Subsystem string
	SeqNum    uint64 // 0 when absent (events synthesized from sysfs)
	Env       map[string]string
}

// Get returns the value of key in the event's environment ("" if absent).
func (e *Event) Get(key string) string { return e.Env[key] }

// Environ returns the environment as sorted KEY=VALUE strings, suitable
// for exec.
func (e *Event) Environ() []string {
	keys := make([]string, 0, len(e.Env))
	for k := range e.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + e.Env[k]
	}
	return out
}

// String is a short description for logs: "add /devices/... (subsystem)".
func (e *Event) String() string {
	return fmt.Sprintf("%s %s (%s)", e.Action, e.DevPath, e.Subsystem)
}

// ErrNotKernel marks datagrams that are not kernel uevents (for example
// the re-broadcasts of a udev daemon, which start with "libudev\0").
var ErrNotKernel = errors.New("not a kernel uevent")

// Parse decodes one netlink datagram from the kernel:
//
//	ACTION@DEVPATH \0 KEY=VALUE \0 KEY=VALUE \0 ...
//
// The header's ACTION and DEVPATH must agree with the ACTION and DEVPATH
// keys when those are present. Pairs without "=" are rejected; an empty
// trailing field (the final NUL) is allowed.
func Parse(b []byte) (*Event, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("uevent of %d bytes is larger than %d", len(b), MaxSize)
	}
	if bytes.HasPrefix(b, []byte("libudev\x00")) {
		return nil, ErrNotKernel
	}
	fields := bytes.Split(b, []byte{0})
	head := string(fields[0])
	at := strings.IndexByte(head, '@')
	if at <= 0 || at == len(head)-1 {
		return nil, fmt.Errorf("%w: header %q is not ACTION@DEVPATH", ErrNotKernel, truncate(head))
	}
	action, devpath := head[:at], head[at+1:]
	env := make(map[string]string, len(fields))
	for i, f := range fields[1:] {
		if len(f) == 0 {
			if i == len(fields)-2 {
				break // trailing NUL
			}
			continue // tolerate empty fields in the middle
		}
		k, v, ok := strings.Cut(string(f), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("uevent %s: field %q is not KEY=VALUE", truncate(head), truncate(string(f)))
		}
		env[k] = v
	}
	if a, ok := env["ACTION"]; ok && a != action {
		return nil, fmt.Errorf("uevent %s: ACTION=%s disagrees with the header", truncate(head), truncate(a))
	}
	if d, ok := env["DEVPATH"]; ok && d != devpath {
		return nil, fmt.Errorf("uevent %s: DEVPATH=%s disagrees with the header", truncate(head), truncate(d))
	}
	env["ACTION"] = action
	env["DEVPATH"] = devpath
	return fromEnv(env)
}

// ParseFile decodes the contents of a sysfs "uevent" file (KEY=VALUE per
// line) into an environment map. Blank lines are skipped; a line without
// "=" is an error.
func ParseFile(b []byte) (map[string]string, error) {
	env := make(map[string]string)
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: %q is not KEY=VALUE", n+1, truncate(line))
		}
		env[k] = v
	}
	return env, nil
}

// New builds an event from an environment; ACTION and DEVPATH must be set.
func New(env map[string]string) (*Event, error) { return fromEnv(env) }

func fromEnv(env map[string]string) (*Event, error) {
	e := &Event{
		Action:    env["ACTION"],
		DevPath:   env["DEVPATH"],
		Subsystem: env["SUBSYSTEM"],
		Env:       env,
	}
	if e.Action == "" || e.DevPath == "" {
		return nil, errors.New("uevent without ACTION or DEVPATH")
	}
	if s, ok := env["SEQNUM"]; ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("uevent %s@%s: bad SEQNUM %q", truncate(e.Action), truncate(e.DevPath), truncate(s))
		}
		e.SeqNum = n
	}
	return e, nil
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
