package supervise

// The state machine of one service: its states, and what each event does in each.

import (
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// Timings s6-supervise uses.
const (
	SpawnGap        = time.Second      // minimum time between two automatic spawns
	SpawnRetryDelay = 10 * time.Second // after ./run could not be spawned
	SetupRetryDelay = 60 * time.Second // after a pipe or supervise/service-lock could not be made
	// LockRetryDelay: while supervise/service-lock (lock-fd) is held by
	// a previous instance of the service, how often it is tried again.
	LockRetryDelay  = 250 * time.Millisecond
	finishKillGrace = 3 * time.Second // after SIGKILLing a finish that overran
	PermanentFail   = 125             // ./finish exit code meaning "do not restart"
)

type state int

const (
	stDown state = iota
	stUp
	stFinish
	stLastUp     // up; exit once it is down
	stLastFinish // finishing; exit once done
)

var signalLetters = map[byte]syscall.Signal{
	'a': syscall.SIGALRM, 'b': syscall.SIGABRT, 'q': syscall.SIGQUIT, 'h': syscall.SIGHUP,
	'k': syscall.SIGKILL, 't': syscall.SIGTERM, 'i': syscall.SIGINT, '1': syscall.SIGUSR1,
	'2': syscall.SIGUSR2, 'p': syscall.SIGSTOP, 'c': syscall.SIGCONT, 'y': syscall.SIGWINCH,
}

var groupLetters = map[byte]syscall.Signal{'P': syscall.SIGSTOP, 'C': syscall.SIGCONT, 'K': syscall.SIGKILL}

// command applies one control letter in the current state.
func (s *Service) command(c byte) {
	up := s.st == stUp || s.st == stLastUp
	switch {
	case signalLetters[c] != 0:
		if up {
			syscall.Kill(s.pid, signalLetters[c])
			if c == 'p' || c == 'c' {
				s.status.Paused = c == 'p'
				s.announce()
			}
		}
		return
	case groupLetters[c] != 0:
		if up {
			syscall.Kill(-s.pid, groupLetters[c])
			if c == 'P' || c == 'C' {
				s.status.Paused = c == 'P'
				s.announce()
			}
		}
		return
	}
	switch c {
	case 'u':
		s.status.WantUp = true
		s.announce()
		if s.st == stDown {
			s.stopTimer()
			s.tryStart()
		}
	case 'd':
		s.status.WantUp = false
		s.announce()
		if up {
			s.sendDown()
		}
	case 'o', 'O':
		s.status.WantUp = false
		s.announce()
		if c == 'o' && s.st == stDown {
			s.stopTimer()
			s.tryStart()
		}
	case 'r':
		// As s6-supervise: the down signal alone (no SIGCONT, no
		// timeout-kill); the service restarts when it dies.
		if up {
			syscall.Kill(s.pid, s.downSignal())
		}
	case 'x':
		// As s6-supervise: "svc -x" also closes the supervisor's stdio,
		// so the last ./finish runs on /dev/null; a scanner stopping
		// (svscanctl -t, like SIGTERM to s6-supervise) keeps it.
		if s.fromFIFO {
			s.quietEnd = true
		}
		switch s.st {
		case stDown:
			s.bail = true
		case stUp:
			s.st = stLastUp
		case stFinish:
			s.st = stLastFinish
		}
	case 'D', 'U':
		// As s6-supervise 2.11: D creates ./down then acts as d; U
		// removes ./down then acts as u.
		// Neither follows a link nor waits on a FIFO found there: the
		// poller's goroutine is every service's.
		if c == 'D' {
			s.createDown()
			s.command('d')
		} else {
			if err := unix.Unlinkat(s.dfd, "down", 0); err != nil && err != unix.ENOENT {
				s.logQ("remove ./down: %v", err)
			}
			s.command('u')
		}
	case 'Q':
		// s6-supervise 2.11: once at most, and ./down: like D without
		// stopping the service.
		s.createDown()
		s.status.WantUp = false
		s.announce()
	case 's', 'X', 'T', 'w', '\n':
		// s6-svc options that act on the client side, or newer s6
		// letters this supervisor ignores harmlessly.
	default:
		s.unknown++
	}
}

// sendDown sends the down signal then SIGCONT, and arms timeout-kill;
// down-signal and timeout-kill are read now, as s6-supervise reads them.
func (s *Service) sendDown() {
	c := s.reread(servicedir.DownSignal, servicedir.TimeoutKill)
	syscall.Kill(s.pid, c.DownSignal)
	syscall.Kill(s.pid, syscall.SIGCONT)
	if s.status.Paused {
		s.status.Paused = false
		s.announce()
	}
	s.cfg.TimeoutKill = c.TimeoutKill
	if c.TimeoutKill > 0 {
		s.setKiller(c.TimeoutKill)
	}
}

// downSignal reads down-signal.
func (s *Service) downSignal() syscall.Signal {
	return s.reread(servicedir.DownSignal).DownSignal
}

// childExited is the reaper's callback for ./run and ./finish.
func (s *Service) childExited(e reaper.Exit) {
	s.do(func() { s.childExit(e) })
}

func (s *Service) childExit(e reaper.Exit) {
	if e.Pid != s.pid {
		return
	}
	switch s.st {
	case stUp, stLastUp:
		s.runDied(e.Status)
	case stFinish, stLastFinish:
		s.finishDone(e.Status)
	}
}

func (s *Service) runDied(ws syscall.WaitStatus) {
	s.stopKiller()
	dead := s.pid
	now := tai64n.Now()
	s.gen++ // a late readiness newline no longer counts
	s.status.Wstat = uint16(ws)
	s.status.Pid = 0
	s.status.Stamp = now
	s.status.Ready = false
	s.status.Paused = false
	s.pid = 0
	s.closeNotify()
	// Read now, as s6-supervise reads them when the service dies.
	// ./finish too: s6-supervise tries it at each death.
	c := s.reread(servicedir.MaxDeathTally, servicedir.TimeoutFinish, servicedir.Finish)
	s.cfg.MaxDeathTally, s.cfg.TimeoutFinish, s.cfg.HasFinish = c.MaxDeathTally, c.TimeoutFinish, c.HasFinish
	s.recordDeath(deathRecord(now, ws))
	last := s.st == stLastUp
	if s.cfg.HasFinish {
		if s.startFinish(ws, dead, last) {
			s.announce()
			s.event(EventDown)
			return
		}
	}
	s.announce()
	s.event(EventDown)
	s.reallyDown(last, false)
}

func (s *Service) finishDone(ws syscall.WaitStatus) {
	s.stopTimer()
	s.pid = 0
	s.status.Pid = 0
	s.status.Finishing = false
	perm := ws.Exited() && ws.ExitStatus() == PermanentFail
	if perm {
		s.status.WantUp = false
	}
	s.reallyDown(s.st == stLastFinish, perm)
}

// reallyDown marks the service down and ready-down, announces 'D' (and
// 'O' for a permanent failure), and respawns or exits.
func (s *Service) reallyDown(last, perm bool) {
	s.status.Ready = true
	s.status.ReadyStamp = tai64n.Now()
	s.announce()
	s.event(EventDownDone)
	if perm {
		s.logQ("./finish exited %d: permanent failure, not restarting", PermanentFail)
		s.event(EventPermFail)
	}
	s.st = stDown
	if last {
		s.bail = true
		return
	}
	if s.status.WantUp {
		// At most one start a second. s6-supervise 2.11 restarts at once
		// only a service that had been ready for a second, and waits a
		// second after any other; this restarts at once any service
		// started more than a second ago (docs/benchmarks.md: restart).
		wait := time.Until(s.spawned.Add(SpawnGap))
		if wait <= 0 {
			s.tryStart()
		} else {
			s.setTimer(wait)
		}
	}
}

func (s *Service) timeout() {
	switch s.st {
	case stDown:
		if s.status.WantUp {
			s.tryStart()
		}
	case stFinish, stLastFinish:
		if s.pid > 0 {
			s.logQ("./finish still running after %v (timeout-finish): killing it", s.cfg.TimeoutFinish)
			syscall.Kill(-s.pid, syscall.SIGKILL)
			syscall.Kill(s.pid, syscall.SIGKILL)
			s.setTimer(finishKillGrace)
		}
	}
}
