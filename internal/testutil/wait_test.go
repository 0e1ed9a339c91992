package testutil

import (
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	n := 0
	if !Poll(time.Minute, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("Poll of a condition true at the third call: called %d times", n)
	}
	if Poll(20*time.Millisecond, func() bool { return false }) {
		t.Error("Poll of a condition never true: true")
	}
}
