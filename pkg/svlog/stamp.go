package svlog

import (
	"time"

	"github.com/svinit/svinit/pkg/tai64n"
)

const hexdigits = "0123456789abcdef"

// stamper formats the per-line timestamps. It caches the parts that only
// change once a second so that a line costs a few byte stores.
type stamper struct {
	sec   int64 // Unix second the caches below belong to
	valid bool
	tai   [tai64n.LabelSize + 1]byte // "@" + 24 hex + " "
	iso   [31]byte                   // "YYYY-MM-DD HH:MM:SS.nnnnnnnnn" + 2 spaces
}

// set prepares the stamps for t.
func (s *stamper) set(t time.Time, tai, iso bool) {
	sec, ns := t.Unix(), t.Nanosecond()
	if !s.valid || sec != s.sec {
		s.sec, s.valid = sec, true
		v := uint64(sec+tai64n.TAIMinusUTC(sec)) + tai64n.Base
		s.tai[0] = '@'
		for i := 16; i >= 1; i-- {
			s.tai[i] = hexdigits[v&15]
			v >>= 4
		}
		s.tai[tai64n.LabelSize] = ' '
		lt := time.Unix(sec, 0).Local()
		b := lt.AppendFormat(s.iso[:0], "2006-01-02 15:04:05")
		_ = b // always 19 bytes for years 1000..9999
		s.iso[19] = '.'
		s.iso[29], s.iso[30] = ' ', ' '
	}
	if tai {
		v := uint32(ns)
		for i := 24; i >= 17; i-- {
			s.tai[i] = hexdigits[v&15]
			v >>= 4
		}
	}
	if iso {
		v := ns
		for i := 28; i >= 20; i-- {
			s.iso[i] = byte('0' + v%10)
			v /= 10
		}
	}
}
