package supervise

// The two timers of a service: the respawn delay or finish timeout, and timeout-kill.

import (
	"syscall"
	"time"
)

// setTimer arms the respawn delay or the finish timeout, replacing the
// one armed before.
func (s *Service) setTimer(d time.Duration) {
	s.stopTimer()
	g := s.tgen
	s.timer = time.AfterFunc(d, func() {
		s.do(func() {
			if s.tgen == g {
				s.timeout()
			}
		})
	})
}

func (s *Service) stopTimer() {
	s.tgen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// setKiller arms timeout-kill.
func (s *Service) setKiller(d time.Duration) {
	s.stopKiller()
	g := s.kgen
	s.killer = time.AfterFunc(d, func() {
		s.do(func() {
			if s.kgen == g && (s.st == stUp || s.st == stLastUp) && s.pid > 0 {
				s.logQ("still up %v after the down signal: sending SIGKILL (timeout-kill)", s.cfg.TimeoutKill)
				syscall.Kill(s.pid, syscall.SIGKILL)
			}
		})
	})
}

func (s *Service) stopKiller() {
	s.kgen++
	if s.killer != nil {
		s.killer.Stop()
		s.killer = nil
	}
}
