package testutil

import (
	"testing"
	"time"
)

// PollInterval is how often Poll looks again.
const PollInterval = 5 * time.Millisecond

// Poll calls cond until it holds or timeout has passed, and reports
// whether it held. It is for what has nothing to subscribe to (a status
// file, a file a service writes); timeout is an overall bound, generous
// since the machine may be loaded, never a measure.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(PollInterval)
	}
	return true
}

// WaitFor polls cond (see Poll) and fails the test if it does not hold
// within timeout, naming what it waited for and adding what detail
// returns (an output so far, say) when detail is not nil.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool, detail func() string) {
	t.Helper()
	if Poll(timeout, cond) {
		return
	}
	if detail != nil {
		t.Fatalf("timed out after %v waiting for %s\n%s", timeout, what, detail())
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
