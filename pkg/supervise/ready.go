package supervise

// Readiness: the notification pipe of ./run. Its reader turns what it
// reads into events for step (evReady, evPipeEnd).

import (
	"os"
	"sync/atomic"
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

// readReady waits for a newline on the notification pipe of spawn
// generation gen, on a goroutine of its own that lives until the
// newline, the end of the pipe, or the death of ./run (which closes the
// pipe: see closeNotify).
func (s *Service) readReady(r *os.File, gen uint32) {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b == '\n' {
				// Seen before applied: a handover (Hold) that comes in
				// between carries it.
				atomic.StoreUint32(&s.readySeen, gen)
				s.do(func() { s.step(event{kind: evReady, gen: gen}) })
				return
			}
		}
		if err != nil {
			s.do(func() { s.step(event{kind: evPipeEnd, gen: gen}) })
			return
		}
	}
}
