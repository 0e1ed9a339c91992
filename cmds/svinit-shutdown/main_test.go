package main

import (
	"bytes"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"svinit-shutdown"},
		{"svinit-shutdown", "explode"},
		{"svinit-shutdown", "poweroff", "reboot"},
		{"svinit-shutdown", "-t", "-5", "halt"},
		{"svinit-shutdown", "-q", "halt"},
	} {
		var out bytes.Buffer
		if err := run(args, nil, &out, &out); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
