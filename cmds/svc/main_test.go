package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient/svtest"
)

func runSvc(args ...string) (int, string) {
	var out, errb bytes.Buffer
	err := run(append([]string{"svc"}, args...), strings.NewReader(""), &out, &errb)
	code := cli.Report(&errb, "svc", err)
	return code, errb.String()
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{}, {"-u"}, {"-Z", "dir"}, {"-wx", "dir"}, {"-w"}, {"-T", "abc", "dir"}, {"-T", "-5", "dir"}, {"-u", ""},
	} {
		if code, msg := runSvc(args...); code != cli.ExitUsage || !strings.Contains(msg, "svc: ") {
			t.Errorf("svc %q: exit %d %q, want 100", args, code, msg)
		}
	}
}

// letters records what the fake supervisor reads, in a channel.
func serveLetters(s *svtest.Service) chan byte {
	ch := make(chan byte, 64)
	s.Serve(func(s *svtest.Service, c byte) { ch <- c })
	return ch
}

func TestSendLetters(t *testing.T) {
	const all = "abqhkti12pcyroduDUxOQPCK"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-" + all}, all},
		{[]string{"-u", "-d", "-u"}, "udu"},
		{[]string{"-T", "10"}, ""}, // no letters, no wait: just a check
		{[]string{"-k", "-t"}, "kt"},
	} {
		s := svtest.New(t, svtest.Down(0, false))
		ch := serveLetters(s)
		code, msg := runSvc(append(tc.args, s.Dir)...)
		if code != 0 {
			t.Fatalf("svc %q: exit %d %s", tc.args, code, msg)
		}
		var got []byte
		for len(got) < len(tc.want) {
			select {
			case c := <-ch:
				got = append(got, c)
			case <-time.After(time.Minute):
				t.Fatalf("svc %q: received only %q", tc.args, got)
			}
		}
		if string(got) != tc.want {
			t.Errorf("svc %q: supervisor read %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestNotRunning(t *testing.T) {
	s := svtest.New(t, svtest.Down(0, false))
	code, msg := runSvc("-u", s.Dir)
	if code != cli.ExitNotSupervised || !strings.Contains(msg, s.Dir) {
		t.Fatalf("exit %d %q, want 102 naming the dir", code, msg)
	}
	// No supervise/ at all: also "not running".
	dir := t.TempDir()
	if code, msg := runSvc("-u", dir); code != cli.ExitNotSupervised {
		t.Fatalf("no supervise dir: exit %d %q, want 102", code, msg)
	}
	// Missing service dir: a system error.
	if code, msg := runSvc("-u", filepath.Join(dir, "nope")); code != cli.ExitSystem {
		t.Fatalf("missing dir: exit %d %q, want 111", code, msg)
	}
	// supervise/ without control: malformed.
	os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
	if code, msg := runSvc("-u", dir); code != cli.ExitUsage {
		t.Fatalf("no control FIFO: exit %d %q, want 100", code, msg)
	}
	// With -w and commands, "not running" still wins over waiting.
	if code, msg := runSvc("-wu", "-T", "100", "-u", s.Dir); code != cli.ExitNotSupervised {
		t.Fatalf("-wu: exit %d %q, want 102", code, msg)
	}
}

func TestWait(t *testing.T) {
	for _, tc := range []struct {
		name    string
		initial servicedir.Status
		notifFd bool
		args    []string
		code    int
		msg     string
	}{
		{"wu u", svtest.Down(0, false), false, []string{"-wu", "-u"}, 0, ""},
		{"combined -uwu", svtest.Down(0, false), false, []string{"-uwu"}, 0, ""},
		{"wd d", svtest.Up(7), false, []string{"-wd", "-d"}, 0, ""},
		{"wD d", svtest.Up(7), false, []string{"-wD", "-d"}, 0, ""},
		{"wr r", svtest.Up(7), false, []string{"-wr", "-r"}, 0, ""},
		{"wR without notification-fd is wr", svtest.Up(7), false, []string{"-wR", "-r"}, 0, "warning"},
		{"wU without notification-fd is wu", svtest.Down(0, false), false, []string{"-wU", "-u"}, 0, "notification-fd"},
		{"wU never ready: timeout", svtest.Down(0, false), true, []string{"-wU", "-T", "50", "-u"}, cli.ExitTimeout, "timed out"},
		{"wu without commands, already up", svtest.Up(7), false, []string{"-wu"}, 0, ""},
		{"wd without commands: timeout", svtest.Up(7), false, []string{"-wd", "-T50"}, cli.ExitTimeout, "timed out"},
		{"only the first -w letter counts", svtest.Up(7), false, []string{"-wdu", "-d"}, 0, ""},
		{"supervisor exits", svtest.Down(0, false), false, []string{"-wu", "-x"}, cli.ExitNotSupervised, "supervisor exited"},
		{"permanent failure", svtest.Down(0, false), false, []string{"-wu", "-O"}, cli.ExitFalse, "failed permanently"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svtest.New(t, tc.initial)
			if tc.notifFd {
				os.WriteFile(filepath.Join(s.Dir, "notification-fd"), []byte("3\n"), 0o644)
			}
			s.Serve(func(s *svtest.Service, c byte) {
				if c == 'O' {
					s.Notify("O")
					return
				}
				svtest.Simple(s, c)
			})
			code, msg := runSvc(append(tc.args, s.Dir)...)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("svc %q: exit %d %q; want %d and %q", tc.args, code, msg, tc.code, tc.msg)
			}
		})
	}
}

func TestExtraArguments(t *testing.T) {
	s := svtest.New(t, svtest.Down(0, false))
	s.Serve(nil)
	code, msg := runSvc("-u", s.Dir, "other")
	if code != 0 || !strings.Contains(msg, "warning: ignoring extra arguments") {
		t.Errorf("exit %d %q", code, msg)
	}
}
