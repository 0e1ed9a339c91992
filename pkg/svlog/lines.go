package svlog

import (
	"bytes"
	"time"
)

// Cutting the input into lines: at a newline or NUL, or at the -l line
// limit, with the last-line handling of TERM/HUP.

// readInput gets what input is available and processes every complete
// line. After a TERM or HUP with a partial line pending it stops at the
// end of that line and takes nothing after it from the pipe.
func (l *Logger) readInput(hup bool) {
	c := len(l.buf)
	n := l.fill()
	if n < 0 {
		l.inReady = false
		return
	}
	if n == 0 {
		l.finishPartial()
		l.exiting = true
		return
	}
	b := l.buf[:c+n]
	ll := l.opts.LineLimit
	start, scan := 0, c // b[start:scan] holds no terminator
	var now time.Time
	stamped, emitted := false, false
	for !(emitted && l.lastLine) {
		end := -1
		rest := b[scan:]
		i := bytes.IndexByte(rest, '\n')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if z := bytes.IndexByte(seg, 0); z >= 0 {
			i = z
		}
		if i >= 0 {
			end = scan + i
		}
		next := end + 1
		if ll > 0 && ((end < 0 && len(b)-start > ll) || end-start > ll) {
			end, next = start+ll, start+ll
		}
		if end < 0 {
			break
		}
		if !stamped || l.sc.NeedTAI || l.sc.NeedISO {
			now, stamped = time.Now(), true
		}
		l.line(b[start:end], now)
		emitted = true
		start, scan = next, next
		if l.peek && l.batchFull() {
			break
		}
	}
	switch {
	case l.peek && emitted:
		l.stalled, l.inReady = false, true
		// Processed up to start; the rest stays in the pipe and will be
		// peeked again. The bytes are consumed once written.
		l.unconsumed += start - c
		l.buf = b[:0]
	case l.peek && !hup && n < cap(b)-c && l.stall(n):
		// Only part of a line is in the pipe: leave it there until more
		// input arrives (or for stallMax at most).
		l.buf = b[:c]
		l.inReady = false
	case l.peek:
		// A partial line that has been sitting there too long, the writer
		// gone, or the buffer full: take it out of the pipe so that the
		// logger can wait for more input without spinning.
		l.unconsumed += n
		l.consume()
		l.buf = b
		// Look again at once: only a read that finds the pipe empty
		// guarantees that the next write will be reported.
		l.stalled, l.inReady = false, true
	default:
		k := copy(b, b[start:])
		l.buf = b[:k]
		if l.lastLine && emitted {
			l.finishPartial()
		}
	}
	if l.lastLine && emitted {
		l.exiting = true
	}
}

// batchFull reports whether a log directory's queue reached its rotation
// threshold: in peek mode the batch then ends, so that it is written and
// consumed from the pipe before the rotation runs.
func (l *Logger) batchFull() bool {
	for _, d := range l.dirs {
		if d.full() {
			return true
		}
	}
	return false
}

// finishPartial processes an incomplete last line as if it ended there.
func (l *Logger) finishPartial() {
	if len(l.buf) > 0 {
		l.line(l.buf, time.Now())
		l.buf = l.buf[:0]
	}
}
