package supervise

// The state machine of one service, in one place: its five states, the
// events that reach it and step, which applies one event in the current
// state (s6-supervise keeps a table of actions per state and event,
// nitro a process_step function; this is the latter). Every change of
// state is made here; the actions step calls (spawn.go, timers.go,
// ready.go, files.go) do their work and report back, they never pick the
// next state. When ./run is next started is decided in one function,
// nextStart.

import (
	"fmt"
	"math/rand/v2"
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

// state is s6-supervise's: what runs, and whether supervision ends once
// the service is down ('x').
type state int

const (
	stDown       state = iota // nothing runs; a start may be due (nextStart)
	stUp                      // ./run runs
	stFinish                  // ./run died, ./finish runs
	stLastUp                  // up; supervision ends once it is down
	stLastFinish              // finishing; supervision ends once done
)

// evKind is what happened to a service.
type evKind uint8

const (
	evStart   evKind = iota // Start: supervision begins
	evLetter                // a control letter (supervise/control or Control)
	evExit                  // a child of the service exited
	evTimer                 // the timer ran out: respawn delay, retry or timeout-finish
	evKill                  // timeout-kill ran out
	evReady                 // a newline on the notification pipe
	evPipeEnd               // the notification pipe ended without one
)

// An event is one input of step.
type event struct {
	kind   evKind
	letter byte        // evLetter: the letter
	fifo   bool        // evLetter: it came from supervise/control
	exit   reaper.Exit // evExit: the child and its wait status
	gen    uint32      // evTimer, evKill: the timer's generation; evReady, evPipeEnd: the spawn's
}

// step applies one event in the current state; it runs with the service
// locked (see do). The whole machine, besides the letters that only set
// "wanted up" or ./down or signal the service:
//
//	state        event                 action                              next state
//	down         Start, if wanted up   spawn ./run                         up, or down (retry due)
//	down         u, U, o               spawn ./run                         up, or down (retry due)
//	down         timer, if wanted up   spawn ./run                         up, or down (retry due)
//	down         x                     -                                   (end)
//	up           ./run exits           'd', tally, spawn ./finish if any   finish, or really down
//	up           d, D                  down signal, SIGCONT, timeout-kill  up
//	up           r                     down signal                         up
//	up           timeout-kill          SIGKILL                             up
//	up           timer (up long enough) backoff streak reset             up
//	up           readiness newline     ready, 'U'                          up
//	up           x                     -                                   last up
//	finish       ./finish exits        really down                         down
//	finish       timer                 SIGKILL ./finish, 3 s grace         finish
//	finish       x                     -                                   last finish
//	last up      ./run exits           as up; ./finish on /dev/null after  last finish, or (end)
//	                                   svc -x (x from supervise/control)
//	last up      other events          as up                               last up
//	last finish  ./finish exits        really down                         (end)
//	last finish  timer                 as finish                           last finish
//
// Really down (reallyDown): ready-down, 'D' ('O' too when ./finish
// exited 125 or svinit-permafail-deaths deaths came within
// svinit-permafail-window, which also marks the service wanted down), then down with
// the next start decided by nextStart, or the end of supervision.
// Letters and timers that do not apply to the current state do nothing;
// an exit, a readiness newline or a timer of an older generation is
// ignored.
func (s *Service) step(ev event) {
	up := s.st == stUp || s.st == stLastUp
	switch ev.kind {
	case evStart:
		if s.started {
			return
		}
		s.started = true
		if s.st == stDown {
			s.startAt(s.nextStart(startBegin, 0))
		}

	case evLetter:
		c := ev.letter
		if servicedir.SignalLetters[c] != 0 || servicedir.GroupSignalLetters[c] != 0 {
			if up {
				s.signal(c)
			}
			return
		}
		switch c {
		case 'u', 'U':
			// As s6-supervise 2.11: U removes ./down then acts as u;
			// never waiting on a FIFO found there: the poller's
			// goroutine is every service's.
			if c == 'U' {
				if err := unix.Unlinkat(s.dfd, "down", 0); err != nil && err != unix.ENOENT {
					s.logQ("remove ./down: %v", err)
				}
			}
			s.wantUp(true)
			s.rs.PermFail = false // a command starts it again
			if s.st == stDown {
				s.startAt(s.nextStart(startAsked, 0))
			}
		case 'd', 'D':
			// D creates ./down then acts as d.
			if c == 'D' {
				s.createDown()
			}
			s.wantUp(false)
			if up {
				s.sendDown()
			}
		case 'o', 'O':
			s.wantUp(false)
			if c == 'o' && s.st == stDown {
				s.startAt(s.nextStart(startAsked, 0))
			}
		case 'r':
			// As s6-supervise: the down signal alone (no SIGCONT, no
			// timeout-kill); the service restarts when it dies.
			if up {
				syscall.Kill(s.pid, s.downSignal())
			}
		case 'x':
			// As s6-supervise: "svc -x" also closes the supervisor's
			// stdio, so the last ./finish runs on /dev/null; a scanner
			// stopping (svscanctl -t, like SIGTERM to s6-supervise)
			// keeps it.
			if ev.fifo {
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
		case 'Q':
			// s6-supervise 2.11: once at most, and ./down: like D
			// without stopping the service.
			s.createDown()
			s.wantUp(false)
		case 's', 'X', 'T', 'w', '\n':
			// s6-svc options that act on the client side, or newer s6
			// letters this supervisor ignores harmlessly.
		default:
			s.unknown++
		}

	case evExit:
		if ev.exit.Pid != s.pid {
			return
		}
		switch s.st {
		case stUp, stLastUp:
			last := s.st == stLastUp
			s.runDied(ev.exit.Status)
			finishing := s.cfg.HasFinish && s.startFinish(ev.exit.Status, ev.exit.Pid, last)
			if finishing {
				s.st = stFinish
				if last {
					s.st = stLastFinish
				}
			}
			s.announce()
			s.event(servicedir.EventDown)
			if !finishing {
				s.reallyDown(last, false)
			}
		case stFinish, stLastFinish:
			perm := s.finishDone(ev.exit.Status)
			s.reallyDown(s.st == stLastFinish, perm)
		}

	case evTimer:
		if ev.gen != s.tgen {
			return
		}
		switch s.st {
		case stDown:
			s.startAt(s.nextStart(startDelayed, 0))
		case stUp, stLastUp:
			// Up for svinit-restart-reset: the restart delay starts
			// again from s6's.
			s.rs.Streak, s.rs.Delay = 0, 0
			s.writeRestart()
		case stFinish, stLastFinish:
			if s.pid > 0 {
				s.logQ("./finish still running after %v (timeout-finish): killing it", s.cfg.TimeoutFinish)
				syscall.Kill(-s.pid, syscall.SIGKILL)
				syscall.Kill(s.pid, syscall.SIGKILL)
				s.setTimer(finishKillGrace)
			}
		}

	case evKill:
		if ev.gen == s.kgen && up && s.pid > 0 {
			if s.cg != nil {
				// Every process of the service, ./run among them.
				s.logQ("still up %v after the down signal: killing every process in its cgroup (timeout-kill)", s.cfg.TimeoutKill)
				if err := s.cg.Kill(); err == nil {
					return
				}
			} else {
				s.logQ("still up %v after the down signal: sending SIGKILL (timeout-kill)", s.cfg.TimeoutKill)
			}
			syscall.Kill(s.pid, syscall.SIGKILL)
		}

	case evReady:
		if ev.gen == s.gen && up {
			s.closeNotify()
			s.status.Ready = true
			s.status.ReadyStamp = tai64n.Now()
			s.announce()
			s.event(servicedir.EventReady)
		}

	case evPipeEnd:
		if ev.gen == s.gen {
			s.closeNotify()
		}
	}
}

// reallyDown marks the service down and ready-down, announces 'D' (and
// 'O' for a permanent failure), then ends supervision (last) or lets
// nextStart decide when ./run starts again.
func (s *Service) reallyDown(last, perm bool) {
	why := ""
	if perm {
		why = fmt.Sprintf("./finish exited %d", PermanentFail)
	} else if !last && s.status.WantUp {
		if n, w := s.cfg.PermafailDeaths, s.cfg.PermafailWindow; n > 0 && len(s.deaths) >= n {
			why = fmt.Sprintf("%d deaths in %v (%s, %s)", n, w, servicedir.PermafailDeaths, servicedir.PermafailWindow)
			perm = true
			s.status.WantUp = false
		}
	}
	// Nothing outlives the service: what ./run left behind (a daemon
	// that double-forked, a stray child) is killed with its cgroup.
	s.killCgroup("down")
	s.status.Ready = true
	s.status.ReadyStamp = tai64n.Now()
	s.announce()
	s.event(servicedir.EventDownDone)
	if perm {
		s.logQ("%s: permanent failure, not restarting (svc -u starts it again)", why)
		s.deaths = s.deaths[:0]
		s.rs.PermFail, s.rs.Next = true, tai64n.Stamp{}
		s.writeRestart() // before 'O': a client woken by it finds it
		s.event(servicedir.EventPermFail)
	}
	s.st = stDown
	if last {
		s.bail = true
		return
	}
	s.startAt(s.nextStart(startDied, 0))
}

// startCause is why nextStart is asked.
type startCause uint8

const (
	startBegin   startCause = iota // supervision begins (Start)
	startAsked                     // u, U or o while down
	startDelayed                   // the timer armed by an earlier decision ran out
	startDied                      // the service is really down after a death
	startFailed                    // spawnRun could not spawn ./run
)

// never is a delay meaning "not until a command".
const never time.Duration = -1

// nextStart is the one place that decides when ./run starts next: 0 at
// once, > 0 after that delay (a timer then brings evTimer, and the
// decision is taken again), never: not until a command. retry is what
// spawnRun asked for when it failed.
func (s *Service) nextStart(why startCause, retry time.Duration) time.Duration {
	switch why {
	case startAsked:
		return 0 // o starts once though it marks the service wanted down
	case startFailed:
		return retry // the retry timer checks "wanted up" when it runs out
	}
	if !s.status.WantUp {
		return never
	}
	if why == startDied {
		// At most one start a second. s6-supervise 2.11 restarts at once
		// only a service that had been ready for a second, and waits a
		// second after any other; this restarts at once any service
		// started more than a second ago (docs/benchmarks.md: restart).
		d := max(0, time.Until(s.spawned.Add(SpawnGap)))
		s.rs.NoBackoff = s.opts.NoBackoff || s.cfg.NoBackoff
		switch {
		case s.rs.NoBackoff:
			s.rs.Streak = 0
		case s.lived >= s.cfg.RestartReset:
			s.rs.Streak = 0 // a healthy run: s6's rule again
		case s.lived >= SpawnGap:
			// A run of a second or more is not a crash loop: s6's rule
			// (at once), and the count stays as it is (a later quick
			// death goes on from it). An admin's svc -k, a bench's
			// kill, a daemon that dies now and then: no delay.
		default:
			s.rs.Streak++
			d = backoff(s.rs.Streak, d, s.cfg.RestartMax, rand.Int64N)
		}
		s.rs.Restarts++
		s.rs.Delay = d
		return d
	}
	return 0
}

// backoff is the delay before the restart that follows streak deaths in
// a row of a service that did not stay up for svinit-restart-reset:
// s6's (base) after the first, then 2 s, 4 s, 8 s... up to limit, each
// shortened by a random part of up to a quarter (jitter: services that
// failed together do not restart together), never less than base.
// randN returns a number in [0, n).
func backoff(streak uint32, base, limit time.Duration, randN func(int64) int64) time.Duration {
	if streak <= 1 {
		return base
	}
	d := limit
	if streak-1 < 32 {
		d = min(limit, SpawnGap<<(streak-1))
	}
	if q := int64(d / 4); q > 0 {
		d -= time.Duration(randN(q))
	}
	return max(d, base)
}

// startAt carries out a decision of nextStart; it is called only while
// the service is down.
// It keeps supervise/svinit-restart's "next start" true.
func (s *Service) startAt(d time.Duration) {
	switch {
	case d == 0:
		s.stopTimer() // a start now replaces any delay armed before
		s.rs.Next = tai64n.Stamp{}
		if ok, retry := s.spawnRun(); ok {
			s.st = stUp
			// After the spawn, off the path from death to up ('u'
			// comes a moment before the file).
			s.writeRestart()
			if s.rs.Streak > 0 && !s.rs.NoBackoff && s.cfg.RestartReset > 0 {
				s.setTimer(s.cfg.RestartReset) // see evTimer while up
			}
		} else {
			s.startAt(s.nextStart(startFailed, retry))
		}
	case d > 0:
		s.setTimer(d)
		s.rs.Next = tai64n.FromTime(time.Now().Add(d))
		s.writeRestart()
	default:
		s.rs.Next = tai64n.Stamp{}
		s.writeRestart()
	}
}

// Actions of step that belong to no other file.

// signal sends the signal of letter c to ./run (or its process group,
// for P, C, K); stopping or continuing it shows in the status.
func (s *Service) signal(c byte) {
	if sig := servicedir.SignalLetters[c]; sig != 0 {
		syscall.Kill(s.pid, sig)
	} else {
		syscall.Kill(-s.pid, servicedir.GroupSignalLetters[c])
	}
	switch c {
	case 'p', 'P', 'c', 'C':
		s.status.Paused = c == 'p' || c == 'P'
		s.announce()
	}
}

// wantUp records in the status whether the service is wanted up.
func (s *Service) wantUp(up bool) {
	s.status.WantUp = up
	s.announce()
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

// runDied records the death of ./run: the status (written by step), the
// death tally, and the files s6-supervise rereads at each death.
func (s *Service) runDied(ws syscall.WaitStatus) {
	s.stopKiller()
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
	// svinit's backoff files are as read at the spawn (one directory
	// listing), not reread: a death costs no more system calls than s6's.
	c := s.reread(servicedir.MaxDeathTally, servicedir.TimeoutFinish, servicedir.Finish)
	s.cfg.MaxDeathTally, s.cfg.TimeoutFinish, s.cfg.HasFinish = c.MaxDeathTally, c.TimeoutFinish, c.HasFinish
	s.recordDeath(servicedir.DeathRecord(now, ws))
	s.checkOOM()
	s.stopTimer() // the backoff reset timer of the run that died
	t := time.Now()
	s.lived = t.Sub(s.spawned)
	s.deaths = recentDeaths(s.deaths, t, s.cfg.PermafailDeaths, s.cfg.PermafailWindow)
}

// recentDeaths adds the death at now to deaths and keeps those within
// window of now, the newest n at most (none when n is 0).
func recentDeaths(deaths []time.Time, now time.Time, n int, window time.Duration) []time.Time {
	if n <= 0 {
		return deaths[:0]
	}
	deaths = append(deaths, now)
	i := 0
	for i < len(deaths) && (now.Sub(deaths[i]) > window || len(deaths)-i > n) {
		i++
	}
	return append(deaths[:0], deaths[i:]...)
}

// finishDone records the end of ./finish; it reports whether it exited
// 125 (permanent failure: the service is then wanted down).
func (s *Service) finishDone(ws syscall.WaitStatus) (perm bool) {
	s.stopTimer()
	s.pid = 0
	s.status.Pid = 0
	s.status.Finishing = false
	perm = ws.Exited() && ws.ExitStatus() == PermanentFail
	if perm {
		s.status.WantUp = false
	}
	return perm
}
