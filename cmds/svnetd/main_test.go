package main

import (
	"io"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"svnetd", "-d", "2"}, "-d 2: want a descriptor number of 3 or more"},
		{[]string{"svnetd", "-d", "987"}, "-d 987: descriptor not open"},
		{[]string{"svnetd", "-t", "0"}, "-t 0: want milliseconds above 0"},
		{[]string{"svnetd", "-x"}, "usage: svnetd"},
		{[]string{"svnetd", "-K", "eth0"}, `"eth0": arguments are ip= parameters`},
		{[]string{"svnetd", "-K", "ip=eth0:bogus"}, `unknown method "bogus"`},
		{[]string{"svnetd", "-K", "ip=10.0.0.2::10.0.0.1:255.255.255.300::eth0:off"}, `netmask "255.255.255.300"`},
	}
	for _, tt := range tests {
		err := run(tt.args, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v (code %d), want exit 100 with %q", tt.args, err, cli.Code(err), tt.want)
		}
	}
}
