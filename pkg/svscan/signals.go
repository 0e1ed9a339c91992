package svscan

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/spawn"
)

// hooked are the signals the scanner reacts to, by .s6-svscan/SIG<NAME>
// hook or by default action.
var hooked = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGPWR, syscall.SIGWINCH, syscall.SIGALRM, syscall.SIGABRT}

// defaultAction is what a hooked signal without a hook does, as control
// letters.
var defaultAction = map[syscall.Signal]string{
	syscall.SIGHUP: "h", syscall.SIGINT: "t", syscall.SIGTERM: "t", syscall.SIGQUIT: "q",
	syscall.SIGALRM: "a", syscall.SIGABRT: "b",
}

// catchSignals starts delivering the hooked signals on sigs, and on
// quiet those that are caught only so that they cannot kill the scanner:
// SIGPIPE (caught rather than ignored: the handler, unlike an ignored
// disposition, is reset to the default in children), and as process 1
// the fault signals (see pid1.go). They have a channel of their own so
// that a flood of them can never crowd out a hooked signal.
func (s *Scanner) catchSignals() (sigs, quiet chan os.Signal) {
	sigs = make(chan os.Signal, 32)
	signal.Notify(sigs, hooked...)
	quiet = make(chan os.Signal, 1)
	signal.Notify(quiet, syscall.SIGPIPE)
	if s.pid1 {
		pid1Signals(quiet)
	}
	return sigs, quiet
}

// signal runs the signal's hook if it has one, or records its default
// action in s.want.
func (s *Scanner) signal(sig syscall.Signal) {
	name := servicedir.SignalName(sig)
	hook := filepath.Join(s.opts.Dir, ".s6-svscan", name)
	if servicedir.CheckExecutable(hook) == nil {
		attr := &spawn.Attr{Dir: s.opts.Dir, Env: os.Environ(), Files: []int{0, 1, 2}}
		if _, err := s.reaper.Spawn(hook, []string{hook}, attr, nil); err != nil {
			s.logf("cannot run %s for %s: %v", hook, name, err)
		}
		return
	}
	if a, ok := defaultAction[sig]; ok {
		s.want.letters([]byte(a))
	}
}
