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

func TestFinishArg(t *testing.T) {
	old, start, err := finishArg("7:2049:1700000000000000000")
	if err != nil || old.Fd != 7 || old.Dev != 2049 || start.UnixNano() != 1700000000000000000 {
		t.Errorf("finishArg: %+v %v %v", old, start, err)
	}
	for _, bad := range []string{"", "7", "x:1:2", "-1:1:2"} {
		if _, _, err := finishArg(bad); err == nil {
			t.Errorf("finishArg(%q): no error", bad)
		}
	}
}
