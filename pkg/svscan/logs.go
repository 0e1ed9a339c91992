package svscan

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// The scanner's own messages go through a queue to a writer goroutine:
// a stuck catch-all logger can never block supervision.

// logf queues a message; if the queue is full (the catch-all logger is
// stuck), the message is counted and reported later instead of blocking.
func (s *Scanner) logf(format string, a ...any) {
	msg := s.opts.Prog + ": " + fmt.Sprintf(format, a...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	select {
	case s.logq <- msg:
	default:
		s.dropped.Add(1)
	}
}

// writeLogs writes the queued messages until the queue is closed.
func (s *Scanner) writeLogs() {
	defer close(s.logDone)
	for msg := range s.logq {
		if n := s.dropped.Swap(0); n > 0 {
			fmt.Fprintf(&s.errw, "%s: %d message(s) dropped: the error output was not being read\n", s.opts.Prog, n)
		}
		io.WriteString(&s.errw, msg)
	}
}

// switchWriter is the scanner's error output, which a shutdown moves.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *switchWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

func (w *switchWriter) set(to io.Writer) {
	w.mu.Lock()
	w.w = to
	w.mu.Unlock()
}
