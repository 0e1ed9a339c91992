// Package tai64n encodes and decodes TAI64N timestamps as s6 and
// daemontools use them: 8 bytes of big-endian TAI seconds (2^62 + 10 +
// Unix seconds, the 10 being the TAI-UTC offset s6 assumes on systems
// without leap-second tables) followed by 4 bytes of big-endian
// nanoseconds. The external "label" form is '@' followed by the 24 hex
// digits of those 12 bytes.
package tai64n

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Size is the length of a packed TAI64N timestamp.
const Size = 12

// LabelSize is the length of the "@4000..." label form.
const LabelSize = 1 + 2*Size

// Offset is the value added to Unix seconds to obtain TAI64 seconds.
const Offset = uint64(1)<<62 + 10

// ErrFormat reports a malformed TAI64N value.
var ErrFormat = errors.New("malformed TAI64N timestamp")

// Stamp is a TAI64N timestamp in its packed form.
type Stamp [Size]byte

// FromTime converts t to a TAI64N stamp.
func FromTime(t time.Time) Stamp {
	var s Stamp
	binary.BigEndian.PutUint64(s[:8], uint64(t.Unix())+Offset)
	binary.BigEndian.PutUint32(s[8:], uint32(t.Nanosecond()))
	return s
}

// Now returns the current time as a TAI64N stamp.
func Now() Stamp { return FromTime(time.Now()) }

// Time converts s back to a time.Time. The zero Stamp converts to the
// time whose Unix value is -(2^62+10) seconds; use IsZero to test for it.
func (s Stamp) Time() time.Time {
	sec := binary.BigEndian.Uint64(s[:8])
	ns := binary.BigEndian.Uint32(s[8:])
	return time.Unix(int64(sec-Offset), int64(ns))
}

// IsZero reports whether s is all zero bytes.
func (s Stamp) IsZero() bool { return s == Stamp{} }

// Label returns the "@4000..." form.
func (s Stamp) Label() string {
	var b [LabelSize]byte
	b[0] = '@'
	hex.Encode(b[1:], s[:])
	return string(b[:])
}

// String is Label.
func (s Stamp) String() string { return s.Label() }

// AppendLabel appends the label form to b without allocating a string.
func (s Stamp) AppendLabel(b []byte) []byte {
	b = append(b, '@')
	n := len(b)
	b = append(b, make([]byte, 2*Size)...)
	hex.Encode(b[n:], s[:])
	return b
}

// Parse decodes a 12-byte packed stamp.
func Parse(b []byte) (Stamp, error) {
	var s Stamp
	if len(b) != Size {
		return s, fmt.Errorf("%w: %d bytes, want %d", ErrFormat, len(b), Size)
	}
	copy(s[:], b)
	if binary.BigEndian.Uint32(s[8:]) > 999999999 {
		return s, fmt.Errorf("%w: nanoseconds out of range", ErrFormat)
	}
	return s, nil
}

// ParseLabel decodes "@" + 24 hex digits. It accepts upper- and
// lower-case hex digits.
func ParseLabel(l string) (Stamp, error) {
	var s Stamp
	if len(l) != LabelSize || l[0] != '@' {
		return s, fmt.Errorf("%w: %q is not '@' followed by 24 hex digits", ErrFormat, l)
	}
	if _, err := hex.Decode(s[:], []byte(l[1:])); err != nil {
		return s, fmt.Errorf("%w: %q: %v", ErrFormat, l, err)
	}
	if binary.BigEndian.Uint32(s[8:]) > 999999999 {
		return s, fmt.Errorf("%w: %q: nanoseconds out of range", ErrFormat, l)
	}
	return s, nil
}

// ParseLabelPrefix decodes a label at the start of line and returns the
// rest of the line after the label and one following space, if any. It
// is meant for log lines of the form "@4000... text".
func ParseLabelPrefix(line []byte) (Stamp, []byte, error) {
	if len(line) < LabelSize {
		return Stamp{}, line, fmt.Errorf("%w: line too short", ErrFormat)
	}
	s, err := ParseLabel(string(line[:LabelSize]))
	if err != nil {
		return s, line, err
	}
	rest := line[LabelSize:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return s, rest, nil
}
