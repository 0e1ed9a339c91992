package svclient

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
)

// ErrTimeout is returned by Wait when the deadline passes first.
var ErrTimeout = errors.New("timed out")

// Goal is a state to wait for.
//
//	Up  Ready
//	yes no    up: run has been spawned                      (svwait -u)
//	yes yes   up and ready: the service notified readiness  (svwait -U)
//	no  no    down: run is dead                             (svwait -d)
//	no  yes   down and ready: ./finish is done too          (svwait -D)
type Goal struct {
	Up    bool
	Ready bool
}

// state is what a waiter knows of one service.
type state struct {
	up, ready bool
	died      bool // supervisor exited ('x') before reaching a goal
	failed    bool // permanent failure ('O') while waiting for up
}

func (s *state) meets(g Goal) bool {
	if s.up != g.Up {
		return false
	}
	return !g.Ready || s.ready
}

// Waiter follows the state of one or more services through their
// event/ fifodirs. Listen subscribes before reading each status file,
// so no state change between the two can be missed; Wait then only
// sleeps on events, it never polls.
type Waiter struct {
	dirs   []string
	ls     []*servicedir.Listener
	st     []state
	ch     chan event
	done   chan struct{}
	queued []byte // events received but not yet applied
	qfrom  int    // service the queued events belong to
}

type event struct {
	i   int
	b   []byte
	err error
}

// EventDir returns DIR/event.
func EventDir(dir string) string { return filepath.Join(dir, "event") }

// Listen subscribes to the events of every service in dirs (creating
// an event/ fifodir where there is none yet, as s6 does), then reads
// each one's status file. Close the Waiter when done: it removes the
// listening FIFOs.
func Listen(dirs []string) (*Waiter, error) {
	w := &Waiter{
		dirs: dirs,
		st:   make([]state, len(dirs)),
		ch:   make(chan event),
		done: make(chan struct{}),
	}
	for i, d := range dirs {
		ev := EventDir(d)
		if _, err := os.Lstat(ev); errors.Is(err, os.ErrNotExist) {
			// Best effort, like s6: if this fails, Listen says why.
			_ = servicedir.MakeFifodir(ev, os.Getegid())
		}
		l, err := servicedir.ListenFifodir(ev)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("subscribe to the events of %s: %w", d, err)
		}
		w.ls = append(w.ls, l)
		st, err := servicedir.ReadStatus(d)
		if errors.Is(err, os.ErrNotExist) && (starting(d) || unscanned(d)) {
			// A supervisor is setting the directory up and has not
			// written the status yet (s6-supervise takes its lock
			// first), or the scanner has not reached this new service
			// directory yet (svscanctl -a returns before the scan):
			// the service is down until its events say more. The
			// supervisor, when it comes, writes them to the event/
			// fifodir made above.
			continue
		}
		if err != nil {
			w.Close()
			return nil, err
		}
		w.st[i] = initial(&st)
	}
	for i, l := range w.ls {
		go w.read(i, l)
	}
	return w, nil
}

// starting reports whether dir has a supervise/lock: a supervisor has
// begun to set it up.
func starting(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "supervise", "lock"))
	return err == nil
}

// unscanned reports whether dir is a service directory (it has a run
// file) that no supervisor has set up yet: no supervise/ at all.
func unscanned(dir string) bool {
	if _, err := os.Lstat(filepath.Join(dir, "supervise")); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, "run"))
	return err == nil
}

func initial(st *servicedir.Status) state {
	pid := int32(uint32(st.Pid))
	return state{up: pid != 0 && !st.Finishing, ready: st.Ready}
}

// read forwards what listener i receives until the Waiter closes.
func (w *Waiter) read(i int, l *servicedir.Listener) {
	for {
		buf := make([]byte, 64)
		n, err := l.Read(buf, time.Time{})
		if n > 0 {
			select {
			case w.ch <- event{i: i, b: buf[:n]}:
			case <-w.done:
				return
			}
		}
		if err != nil {
			select {
			case w.ch <- event{i: i, err: err}:
			case <-w.done:
			}
			return
		}
	}
}

// Result tells how a Wait ended besides success.
type Result struct {
	// Died lists the services whose supervisor exited before they
	// reached the goal.
	Died []string
	// Failed lists the services that reported permanent failure while
	// they were awaited up.
	Failed []string
}

// OK reports whether every service reached the goal normally.
func (r Result) OK() bool { return len(r.Died) == 0 && len(r.Failed) == 0 }

// Wait blocks until the services meet goal (all of them, or at least
// one if any), or deadline passes (zero: no deadline; then it returns
// ErrTimeout). A service whose supervisor exits ('x') or that fails
// permanently ('O', only when waiting for up) counts as having reached
// the goal and is reported in the Result. Wait may be called several
// times in a row (e.g. down, then up) and misses nothing in between.
func (w *Waiter) Wait(goal Goal, any bool, deadline time.Time) (Result, error) {
	for i := range w.st {
		w.st[i].died, w.st[i].failed = false, false
	}
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	for {
		if w.met(goal, any) {
			return w.result(), nil
		}
		if len(w.queued) > 0 {
			c := w.queued[0]
			w.queued = w.queued[1:]
			w.apply(w.qfrom, c, goal)
			continue
		}
		select {
		case ev := <-w.ch:
			if ev.err != nil {
				return w.result(), fmt.Errorf("listen to the events of %s: %w", w.dirs[ev.i], ev.err)
			}
			w.queued, w.qfrom = ev.b, ev.i
		case <-timer:
			return w.result(), ErrTimeout
		}
	}
}

func (w *Waiter) met(goal Goal, any bool) bool {
	if len(w.st) == 0 {
		return true
	}
	for i := range w.st {
		if w.st[i].meets(goal) == any {
			return any
		}
	}
	return !any
}

// apply updates service i's state with one event byte.
func (w *Waiter) apply(i int, c byte, goal Goal) {
	s := &w.st[i]
	switch c {
	case 'u':
		s.up, s.ready = true, false
	case 'U':
		s.up, s.ready = true, true
	case 'd':
		s.up, s.ready = false, false
	case 'D':
		s.up, s.ready = false, true
	case 'x':
		if !s.meets(goal) {
			s.died = true
		}
		s.up, s.ready = goal.Up, goal.Ready
	case 'O':
		if goal.Up {
			s.failed = true
			s.up, s.ready = goal.Up, goal.Ready
		}
	}
}

func (w *Waiter) result() Result {
	var r Result
	for i := range w.st {
		if w.st[i].died {
			r.Died = append(r.Died, w.dirs[i])
		}
		if w.st[i].failed {
			r.Failed = append(r.Failed, w.dirs[i])
		}
	}
	return r
}

// Close unsubscribes: it removes the listening FIFOs and stops the
// readers.
func (w *Waiter) Close() error {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	var first error
	for _, l := range w.ls {
		if err := l.Close(); err != nil && first == nil {
			first = err
		}
	}
	w.ls = nil
	return first
}

// Pending lists the services that do not meet goal yet.
func (w *Waiter) Pending(goal Goal) []string {
	var p []string
	for i := range w.st {
		if !w.st[i].meets(goal) {
			p = append(p, w.dirs[i])
		}
	}
	return p
}

// GoalFor maps a wait letter (u U d D r R, as in svwait -u or svc -wu)
// to its goal; r and R also ask for a restart: first down, then the goal.
func GoalFor(letter byte) (g Goal, restart bool, ok bool) {
	switch letter {
	case 'u':
		return Goal{Up: true}, false, true
	case 'U':
		return Goal{Up: true, Ready: true}, false, true
	case 'd':
		return Goal{}, false, true
	case 'D':
		return Goal{Ready: true}, false, true
	case 'r':
		return Goal{Up: true}, true, true
	case 'R':
		return Goal{Up: true, Ready: true}, true, true
	}
	return Goal{}, false, false
}

// Describe says the goal in words, for messages.
func (g Goal) Describe() string {
	switch {
	case g.Up && g.Ready:
		return "up and ready"
	case g.Up:
		return "up"
	case g.Ready:
		return "down and finished"
	}
	return "down"
}
