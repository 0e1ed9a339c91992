package main

import (
	"bytes"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"svinit-switch-root", "extra"},
		{"svinit-switch-root", "-q"},
	} {
		var out bytes.Buffer
		if err := run(args, nil, &out, &out); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}
