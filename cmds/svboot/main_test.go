package main

import (
	"bytes"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

// Only bad usage is tried here: a good command line mounts disks and
// kexecs. pkg/bootmenu tests the flow with fakes; integration/boot's
// TestKexecBootMenu boots it.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"svboot", "-x"}, {"svboot", "-t"}, {"svboot", "-t", "soon"}, {"svboot", "-t", "-1"}, {"svboot", "-t", "4000"}, {"svboot", "-w", "x"}} {
		var out bytes.Buffer
		if err := run(args, nil, &out, &out); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
