package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

func TestRefusesOutsideProcess1(t *testing.T) {
	if os.Getpid() == 1 {
		t.Skip("running as process 1")
	}
	var out bytes.Buffer
	err := run([]string{"svinit-final"}, nil, &out, &out)
	if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "must run as process 1") {
		t.Fatalf("got %v", err)
	}
	for _, args := range [][]string{{"svinit-final", "extra"}, {"svinit-final", "-a", "explode"}, {"svinit-final", "-x"}} {
		if err := run(args, nil, &out, &out); cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: %v, want usage error", args, err)
		}
	}
}
