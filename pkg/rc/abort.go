package rc

import (
	"errors"
	"os"
	"sync"
	"time"
)

// aborter interrupts the waits of the longrun transitions under way
// when a change is aborted (svrc's SIGTERM or SIGINT, as s6-rc's).
// The event listeners of those transitions are registered; aborting
// sets their read deadline to now, so each wait returns at once, and
// every later registration fails.
type aborter struct {
	mu      sync.Mutex
	done    bool
	waiting map[*os.File]bool
}

// abort interrupts the longrun transitions under way and keeps new
// ones from waiting.
func (l *Live) abort() {
	a := &l.abortState
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done = true
	for f := range a.waiting {
		f.SetReadDeadline(time.Now())
	}
}

// aborted tells whether the change was aborted.
func (l *Live) aborted() bool {
	a := &l.abortState
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done
}

// interruptible registers the listener of a longrun transition's
// waits; it returns false (and registers nothing) once the change is
// aborted. The returned function unregisters it.
func (l *Live) interruptible(w *watch) (func(), bool) {
	a := &l.abortState
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.done {
		return nil, false
	}
	if a.waiting == nil {
		a.waiting = map[*os.File]bool{}
	}
	f := w.l.Fd()
	a.waiting[f] = true
	return func() {
		a.mu.Lock()
		delete(a.waiting, f)
		a.mu.Unlock()
	}, true
}

// The failures of longrun transitions cut short by an abort.
var (
	errInterruptedUp   = errors.New("interrupted by a signal before it was up: sent down (./down written, d sent), as s6-rc does")
	errInterruptedDown = errors.New("interrupted by a signal before it was down: d was sent, it may still be stopping")
)
