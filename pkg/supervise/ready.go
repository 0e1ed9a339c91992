package supervise

// Readiness: the notification pipe of ./run.

import (
	"os"

	"github.com/svinit/svinit/pkg/tai64n"
)

// closeNotify closes the read end of the notification pipe: its reader
// goroutine ends, even while a background child of ./run keeps the
// write end open.
func (s *Service) closeNotify() {
	if s.notify != nil {
		s.notify.Close()
		s.notify = nil
	}
}

// readReady waits for a newline on the notification pipe, on a goroutine
// of its own that lives until the newline, the end of the pipe, or the
// death of ./run (which closes the pipe: see closeNotify).
func (s *Service) readReady(r *os.File, gen int) {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				s.do(func() { s.becameReady(gen) })
				return
			}
		}
		if err != nil {
			s.do(func() {
				if gen == s.gen {
					s.closeNotify()
				}
			})
			return
		}
	}
}

func (s *Service) becameReady(gen int) {
	if gen != s.gen || !(s.st == stUp || s.st == stLastUp) {
		return
	}
	s.closeNotify()
	s.status.Ready = true
	s.status.ReadyStamp = tai64n.Now()
	s.announce()
	s.event(EventReady)
}
