package rc

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Options drive the execution of a plan.
type Options struct {
	// Execlineb is the path of execlineb, which reads oneshot scripts.
	Execlineb string
	// Timeout bounds the whole change (svrc -t); zero waits forever.
	Timeout time.Duration
	// Force stops essential services too (svrc -D).
	Force bool
	// Verbose, when set, reports each transition as it completes.
	Verbose io.Writer
	// Abort, when closed, interrupts the change as s6-rc's SIGTERM
	// and SIGINT do: no transition starts any more, the longrun
	// transitions under way fail at once (an up one is sent down),
	// and the oneshot scripts running are waited for (killing one
	// would leave its service in an unknown state).
	Abort <-chan struct{}
}

// Failure is a transition that failed, or that was not attempted
// because one it needed failed.
type Failure struct {
	Name   string
	Reason string
	// Blocked lists the services left as they were because of this one.
	Blocked []string
}

// Outcome is what an execution did.
type Outcome struct {
	Done     []string // transitions that succeeded, in completion order
	Failed   []Failure
	TimedOut bool // the overall timeout (Options.Timeout) passed
	// Interrupted is set when Options.Abort was closed during the
	// change; NotStarted then lists the transitions it left undone
	// (those blocked by a failure are in Failed).
	Interrupted bool
	NotStarted  []string
}

// Execute carries the plan out: every transition starts as soon as
// those it waits for (its dependencies going up, its dependents going
// down) have succeeded, so independent services change in parallel.
// A transition that fails blocks every transition waiting for it,
// directly or not; the others go on.
func (l *Live) Execute(db *DB, p *Plan, o Options) Outcome {
	var overall time.Time
	if o.Timeout > 0 {
		overall = time.Now().Add(o.Timeout)
	}
	type result struct {
		done    chan struct{}
		err     error
		blocker int // for a blocked transition: the failure behind it
	}
	res := map[int]*result{}
	for id := range p.Set {
		res[id] = &result{done: make(chan struct{}), blocker: -1}
	}
	var mu sync.Mutex
	var out Outcome
	if o.Abort != nil {
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-o.Abort:
				l.abort()
			case <-finished:
			}
		}()
	}
	var wg sync.WaitGroup
	for id := range p.Set {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			r := res[id]
			defer close(r.done)
			for _, b := range db.Before(id, p.Set, p.Up) {
				<-res[b].done
				if res[b].err == errNotStarted {
					r.err = errNotStarted
					return
				}
				if res[b].err != nil {
					r.blocker = b
					if res[b].blocker >= 0 {
						r.blocker = res[b].blocker
					}
					r.err = errBlocked
					return
				}
			}
			if l.aborted() {
				r.err = errNotStarted
				return
			}
			s := db.atoms[id]
			deadline := overall
			t := s.TimeoutUp
			if !p.Up {
				t = s.TimeoutDown
			}
			if t > 0 && (deadline.IsZero() || time.Now().Add(t).Before(deadline)) {
				deadline = time.Now().Add(t)
			}
			r.err = l.transition(s, p.Up, o, deadline)
			if r.err != nil && !overall.IsZero() && !time.Now().Before(overall) {
				mu.Lock()
				out.TimedOut = true
				mu.Unlock()
			}
			if r.err == nil {
				l.setFailed(s.Name, "")
				mu.Lock()
				out.Done = append(out.Done, s.Name)
				mu.Unlock()
				if o.Verbose != nil {
					fmt.Fprintf(o.Verbose, "svrc: %s %s %s\n", s.Type, s.Name, updown(p.Up))
				}
			} else if r.err != errNotStarted {
				l.setFailed(s.Name, fmt.Sprintf("%s: %v", updown(p.Up), r.err))
			}
		}(id)
	}
	wg.Wait()
	byFail := map[int]*Failure{}
	out.Interrupted = l.aborted()
	for _, id := range sortedIDs(p.Set) {
		r := res[id]
		if r.err == errNotStarted {
			out.NotStarted = append(out.NotStarted, db.atoms[id].Name)
		}
		if r.err == nil || r.err == errBlocked || r.err == errNotStarted {
			continue
		}
		byFail[id] = &Failure{Name: db.atoms[id].Name, Reason: r.err.Error()}
	}
	for _, id := range sortedIDs(p.Set) {
		if r := res[id]; r.err == errBlocked {
			if f := byFail[r.blocker]; f != nil {
				f.Blocked = append(f.Blocked, db.atoms[id].Name)
			}
		}
	}
	for _, id := range sortedIDs(p.Set) {
		if f := byFail[id]; f != nil {
			sort.Strings(f.Blocked)
			out.Failed = append(out.Failed, *f)
		}
	}
	return out
}

var (
	errBlocked    = errors.New("blocked")
	errNotStarted = errors.New("not started: svrc was interrupted")
)

// transition brings one atomic service up or down and records it.
func (l *Live) transition(s *Service, up bool, o Options, deadline time.Time) error {
	switch s.Type {
	case Oneshot:
		if err := l.oneshot(s, up, o.Execlineb, deadline); err != nil {
			return err
		}
		return l.setOneshot(s.Name, up)
	case Longrun:
		if up {
			return l.longrunUp(s, deadline)
		}
		return l.longrunDown(s, deadline)
	}
	return fmt.Errorf("%s is a %s, not an atomic service", s.Name, s.Type)
}

// Report writes what failed, one failure a line:
// "svrc: NAME: REASON; left as they were: A B".
func (out *Outcome) Report(w io.Writer, up bool) {
	what := "left down"
	if !up {
		what = "left up"
	}
	for _, f := range out.Failed {
		line := fmt.Sprintf("svrc: %s failed: %s", f.Name, f.Reason)
		if len(f.Blocked) > 0 {
			line += fmt.Sprintf("; %s because of it:", what)
			for _, b := range f.Blocked {
				line += " " + b
			}
		}
		fmt.Fprintln(w, line)
	}
	if out.Interrupted {
		line := "svrc: interrupted: no transition started after the signal"
		if len(out.NotStarted) > 0 {
			line += fmt.Sprintf("; %s, not started:", what)
			for _, n := range out.NotStarted {
				line += " " + n
			}
		}
		fmt.Fprintln(w, line)
	}
}
