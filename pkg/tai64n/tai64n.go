// Package tai64n encodes and decodes TAI64N timestamps as s6 and
// daemontools use them: 8 bytes of big-endian TAI seconds (2^62 + TAI-UTC
// + Unix seconds) followed by 4 bytes of big-endian nanoseconds. TAI-UTC
// is 10 s before 1972 plus one second per leap second since (37 s from
// 2017 on): that is what Debian's skalibs, and so s6-supervise, s6-svstat
// and s6-log, use. The external "label" form is '@' followed by the 24
// hex digits of those 12 bytes.
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

// Base is 2^62, the TAI64 label of the TAI epoch.
const Base = uint64(1) << 62

// leaps are the Unix times at which a leap second had just been added,
// each raising TAI-UTC by one from its 1972 value of 10 s.
var leaps = [...]int64{78796800, 94694400, 126230400, 157766400, 189302400, 220924800,
	252460800, 283996800, 315532800, 362793600, 394329600, 425865600, 489024000, 567993600,
	631152000, 662688000, 709948800, 741484800, 773020800, 820454400, 867715200, 915148800,
	1136073600, 1230768000, 1341100800, 1435708800, 1483228800}

// TAIMinusUTC returns TAI-UTC in seconds at Unix time unix.
func TAIMinusUTC(unix int64) int64 {
	n := int64(10)
	for _, l := range leaps {
		if unix >= l {
			n++
		}
	}
	return n
}

// ErrFormat reports a malformed TAI64N value.
var ErrFormat = errors.New("malformed TAI64N timestamp")

// Stamp is a TAI64N timestamp in its packed form.
type Stamp [Size]byte

// FromTime converts t to a TAI64N stamp.
func FromTime(t time.Time) Stamp {
	var s Stamp
	u := t.Unix()
	binary.BigEndian.PutUint64(s[:8], uint64(u+TAIMinusUTC(u))+Base)
	binary.BigEndian.PutUint32(s[8:], uint32(t.Nanosecond()))
	return s
}

// Now returns the current time as a TAI64N stamp.
func Now() Stamp { return FromTime(time.Now()) }

// Time converts s back to a time.Time. Use IsZero to test for the zero
// Stamp, which converts to a meaningless time.
func (s Stamp) Time() time.Time {
	tai := int64(binary.BigEndian.Uint64(s[:8]) - Base)
	ns := binary.BigEndian.Uint32(s[8:])
	u := tai - 10
	for d := int64(len(leaps)); d > 0; d-- {
		if c := tai - 10 - d; TAIMinusUTC(c) == 10+d {
			u = c
			break
		}
	}
	return time.Unix(u, int64(ns))
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
