package svlog

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// What happens to one line: the selection directives decide which
// action directives apply, and each appends the composed line to its
// destination (a log directory's queue, stdout's buffer) or writes it
// at once (alerts to stderr, status files).

// line runs the script over one line (without its terminator).
func (l *Logger) line(s []byte, now time.Time) {
	if l.sc.NeedTAI || l.sc.NeedISO {
		l.st.set(now, l.sc.NeedTAI, l.sc.NeedISO)
	}
	selected, acted := true, false
	for ei := range l.sc.Elems {
		e := &l.sc.Elems[ei]
		for j := range e.Sels {
			sel := &e.Sels[j]
			switch sel.Kind {
			case SelDefault:
				selected = !acted
			case SelPlus:
				if !selected && sel.Re.Match(s) {
					selected = true
				}
			case SelMinus:
				if selected && sel.Re.Match(s) {
					selected = false
				}
			}
		}
		if !selected {
			continue
		}
		acted = true
		for ai := range l.acts[ei] {
			a := &l.acts[ei][ai]
			switch a.Kind {
			case ActDir:
				d := l.dirs[a.Dir]
				d.out = l.compose(d.out, a, s)
			case ActStdout:
				l.outBuf = l.compose(l.outBuf, a, s)
			case ActAlert:
				l.alert(a, s)
			case ActStatus:
				l.status(a, s)
			}
		}
	}
}

// compose appends stamps, prefix, the line and a newline to b.
func (l *Logger) compose(b []byte, a *Action, s []byte) []byte {
	if a.TAI {
		b = append(b, l.st.tai[:]...)
	}
	if a.ISO {
		b = append(b, l.st.iso[:]...)
	}
	if a.HasPfx {
		b = append(b, a.Prefix...)
		b = append(b, ' ')
	}
	b = append(b, s...)
	return append(b, '\n')
}

func (l *Logger) alert(a *Action, s []byte) {
	b := append(l.scratch[:0], l.opts.Prog...)
	b = append(b, ": alert: "...)
	if a.Size > 0 && a.Size+3 < len(s) {
		b = l.compose(b, a, s[:a.Size])
		b = append(b[:len(b)-1], "...\n"...)
	} else {
		b = l.compose(b, a, s)
	}
	l.stderr.Write(b)
	l.scratch = b
}

func (l *Logger) status(a *Action, s []byte) {
	b := l.compose(l.scratch[:0], a, s)
	if a.Size > 0 {
		if len(b) > a.Size {
			b = b[:a.Size]
		} else {
			for len(b) < a.Size {
				b = append(b, '\n')
			}
		}
	}
	l.scratch = b
	tmp := a.File + ".new"
	err := os.WriteFile(tmp, b, 0o666)
	if err == nil {
		err = os.Rename(tmp, a.File)
	}
	if err != nil {
		l.warnf("unable to write status file %s: %v", a.File, err)
	}
}

func (l *Logger) flushStdout() {
	if len(l.outBuf) == 0 {
		return
	}
	_, err := l.stdout.Write(l.outBuf)
	l.outBuf = l.outBuf[:0]
	if err != nil {
		if !errors.Is(err, syscall.EPIPE) || l.opts.Verbosity > 0 {
			fmt.Fprintf(l.stderr, "%s: warning: unable to write to stdout, closing the stream - error was: %v\n", l.opts.Prog, err)
		}
		for i := range l.acts {
			for j := range l.acts[i] {
				if l.acts[i][j].Kind == ActStdout {
					l.acts[i][j].Kind = ActNothing
				}
			}
		}
	}
}
