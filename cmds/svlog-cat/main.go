// Command svlog-cat prints log files (or its standard input) with the
// TAI64N labels that start lines replaced by a readable date and time,
// like s6-tai64nlocal. See docs/svlog-cat.md.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/tai64n"
)

const usage = "usage: svlog-cat [ -g ] [ file... ]"

func main() { cli.Main("svlog-cat", run) }

// maxYear is the last year a label is converted for: s6-tai64nlocal
// goes through C's struct tm, whose year (minus 1900) is an int, and
// prints garbage or crashes past it.
const maxYear = 1<<31 - 1 + 1900

// converter turns labels into text, caching the formatted second.
type converter struct {
	loc   *time.Location
	sec   int64
	valid bool
	head  []byte // "YYYY-MM-DD HH:MM:SS" (more digits after year 9999)
}

// convertible reports whether a label stands for a time svlog-cat (like
// s6-tai64nlocal) shows as a date: from 1970-01-01 00:00:00 UTC to the end
// of maxYear. Other labels are left as they are.
func convertible(st tai64n.Stamp) (time.Time, bool) {
	raw := binary.BigEndian.Uint64(st[:8])
	if raw < tai64n.Base || raw-tai64n.Base >= 1<<57 {
		return time.Time{}, false
	}
	t := st.Time()
	if t.Unix() < 0 || t.UTC().Year() > maxYear {
		return time.Time{}, false
	}
	return t, true
}

// appendTime appends "YYYY-MM-DD HH:MM:SS.nnnnnnnnn" for t.
func (c *converter) appendTime(b []byte, t time.Time) []byte {
	if s := t.Unix(); !c.valid || s != c.sec {
		c.sec, c.valid = s, true
		c.head = t.In(c.loc).AppendFormat(c.head[:0], "2006-01-02 15:04:05")
	}
	b = append(b, c.head...)
	b = append(b, '.')
	ns := t.Nanosecond()
	var d [9]byte
	for i := 8; i >= 0; i-- {
		d[i] = byte('0' + ns%10)
		ns /= 10
	}
	return append(b, d[:]...)
}

// filter copies r to w, converting a label at the start of each line.
func (c *converter) filter(r io.Reader, w *bufio.Writer) error {
	br := bufio.NewReaderSize(r, 64<<10)
	lineStart := true
	var tmp []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if lineStart && len(chunk) > tai64n.LabelSize && chunk[0] == '@' {
				if st, perr := tai64n.ParseLabel(string(chunk[:tai64n.LabelSize])); perr == nil {
					if t, ok := convertible(st); ok {
						tmp = c.appendTime(tmp[:0], t)
						w.Write(tmp)
						chunk = chunk[tai64n.LabelSize:]
					}
				}
			}
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			lineStart = chunk[len(chunk)-1] == '\n'
		}
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
		case err == io.EOF:
			return nil
		default:
			return err
		}
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &converter{loc: time.Local}
	args = args[1:]
	for len(args) > 0 && len(args[0]) > 1 && args[0][0] == '-' {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		for _, o := range a[1:] {
			switch o {
			case 'g':
				c.loc = time.UTC
			default:
				return cli.Usagef("unknown option -%c\n%s", o, usage)
			}
		}
	}
	w := bufio.NewWriterSize(stdout, 64<<10)
	if len(args) == 0 {
		args = []string{"-"}
	}
	var failed error
	for _, name := range args {
		var r io.Reader = stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				failed = cli.Exitf(cli.ExitSystem, "open %s: %v", name, err)
				fmt.Fprintf(stderr, "svlog-cat: %v\n", failed)
				continue
			}
			r = f
			defer f.Close()
		}
		if err := c.filter(r, w); err != nil {
			w.Flush()
			return cli.Exitf(cli.ExitSystem, "%s: %v", name, err)
		}
	}
	if err := w.Flush(); err != nil {
		return cli.Exitf(cli.ExitSystem, "write to stdout: %v", err)
	}
	if failed != nil {
		return cli.Silent(cli.ExitSystem)
	}
	return nil
}
