package supervise

// The two timers of a service: one for the respawn delay, a retry or
// timeout-finish (what it means depends on the state when it runs out),
// one for timeout-kill. Each carries a generation number, so that a
// timer stopped after it fired (its callback waiting for the lock) is
// ignored by step.

import (
	"time"
)

// setTimer arms the timer, replacing the one armed before; when it runs
// out, step gets evTimer.
func (s *Service) setTimer(d time.Duration) {
	s.stopTimer()
	g := s.tgen
	s.timerDue = time.Now().Add(d)
	s.timer = time.AfterFunc(d, func() {
		s.do(func() { s.step(event{kind: evTimer, gen: g}) })
	})
}

func (s *Service) stopTimer() {
	s.tgen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// setKiller arms timeout-kill; when it runs out, step gets evKill.
func (s *Service) setKiller(d time.Duration) {
	s.stopKiller()
	g := s.kgen
	s.killerDue = time.Now().Add(d)
	s.killer = time.AfterFunc(d, func() {
		s.do(func() { s.step(event{kind: evKill, gen: g}) })
	})
}

func (s *Service) stopKiller() {
	s.kgen++
	if s.killer != nil {
		s.killer.Stop()
		s.killer = nil
	}
}
