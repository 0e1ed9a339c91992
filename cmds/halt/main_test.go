package main

import (
	"bytes"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

// Only bad usage is tried here: a good command line would signal
// process 1. pkg/shutdown tests the requests with an injected pid.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"halt", "-x"}, {"halt", "later"}, {"halt", "+1", "+2"}} {
		var out bytes.Buffer
		if err := run(args, nil, &out, &out); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
