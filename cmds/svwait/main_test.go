package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient/svtest"
)

func runSvwait(args ...string) (int, string) {
	var out, errb bytes.Buffer
	err := run(append([]string{"svwait"}, args...), strings.NewReader(""), &out, &errb)
	return cli.Report(&errb, "svwait", err), errb.String()
}

func TestSvwait(t *testing.T) {
	up, down := svtest.Up(5), svtest.Down(0, true)
	for _, tc := range []struct {
		name   string
		states []servicedir.Status
		events []string // sent once svwait has subscribed
		args   []string
		code   int
		msg    string
	}{
		{"default is -u", []servicedir.Status{up}, nil, nil, 0, ""},
		{"-u by event", []servicedir.Status{down}, []string{"u"}, []string{"-u"}, 0, ""},
		{"-U", []servicedir.Status{down}, []string{"uU"}, []string{"-U"}, 0, ""},
		{"-d timeout", []servicedir.Status{up}, nil, []string{"-d", "-t", "50"}, cli.ExitTimeout, "timed out"},
		{"-D", []servicedir.Status{up}, []string{"dD"}, []string{"-D"}, 0, ""},
		{"-r", []servicedir.Status{up}, []string{"dDu"}, []string{"-r"}, 0, ""},
		{"-R needs ready", []servicedir.Status{up}, []string{"dDu"}, []string{"-R", "-t50"}, cli.ExitTimeout, ""},
		{"-a all", []servicedir.Status{up, down}, []string{"", "u"}, []string{"-a", "-u"}, 0, ""},
		{"-a one missing", []servicedir.Status{up, down}, nil, []string{"-t", "50"}, cli.ExitTimeout, "all of"},
		{"-o any", []servicedir.Status{down, up}, nil, []string{"-o"}, 0, ""},
		{"last of -a/-o wins", []servicedir.Status{down, up}, nil, []string{"-o", "-a", "-t50"}, cli.ExitTimeout, ""},
		{"permanent failure count", []servicedir.Status{down, down, down}, []string{"O", "O", "u"}, nil, 2, "permanent failure"},
		{"supervisor died", []servicedir.Status{down}, []string{"x"}, nil, cli.ExitNotSupervised, "supervisor"},
		{"usage: no dir", nil, nil, []string{"-u"}, cli.ExitUsage, "usage"},
		{"usage: bad timeout", []servicedir.Status{up}, nil, []string{"-t", "x"}, cli.ExitUsage, ""},
		{"usage: bad option", []servicedir.Status{up}, nil, []string{"-x"}, cli.ExitUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var svs []*svtest.Service
			args := tc.args
			for _, st := range tc.states {
				s := svtest.New(t, st)
				svs = append(svs, s)
			}
			for _, s := range svs {
				args = append(args, s.Dir)
			}
			// Send the events once svwait's FIFO exists in every event/.
			stop := make(chan struct{})
			defer close(stop)
			if len(tc.events) > 0 {
				go func() {
					for i, s := range svs {
						if !svtest.WaitListener(s, stop) {
							return
						}
						s.Notify(tc.events[i])
					}
				}()
			}
			code, msg := runSvwait(args...)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("svwait %q: exit %d %q; want %d, %q", tc.args, code, msg, tc.code, tc.msg)
			}
		})
	}
}
