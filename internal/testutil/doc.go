// Package testutil holds what the tests of several packages share:
// building commands with the go tool (build.go), waiting for a condition
// that has no event to subscribe to (wait.go), checking a log of
// numbered lines for loss, repetition and damage (lines.go), and running
// the test binary as process 1 of new PID and mount namespaces (pid1.go).
//
// Only tests import it.
package testutil
