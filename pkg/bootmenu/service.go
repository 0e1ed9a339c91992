package bootmenu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultTimeout is the menu's countdown when neither svboot -t nor
// svinit.boot.timeout= sets one.
const DefaultTimeout = 5 * time.Second

// Service is one run of svboot: find the entries, choose one (the menu,
// or svinit.boot=), load it, ask svinit for the kexec action. Every
// step with an effect outside is a function, so the flow is tested
// without disks or kexec.
type Service struct {
	Timeout time.Duration // the countdown (DefaultTimeout)
	Default string        // the default entry, by title or number ("": the first)
	Boot    string        // boot this entry without asking (svinit.boot=)
	DryRun  bool          // choose, but neither load nor kexec
	Chain   []string      // the program to exec when nothing is booted ("s", no entry, a failure)

	Log  io.Writer   // svboot's log (its stdout)
	Term io.Writer   // the console: the menu and what happens
	Keys <-chan byte // keys typed on the console (nil: none)

	// Find returns the entries in menu order, and what unmounts their
	// file systems.
	Find  func(ctx context.Context) ([]Entry, func() error, error)
	Load  func(Entry) error // load the kernel for kexec
	Kexec func() error      // ask svinit for the kexec action (shutdown.RequestKexec)
	Exec  func(argv []string) error
	// Wait blocks once the kexec was asked for, until svboot is
	// stopped with its service.
	Wait  func()
	After func(time.Duration) <-chan time.Time
	Now   func() time.Time
}

// say writes a line to the log and to the console.
func (s *Service) say(format string, a ...any) {
	line := fmt.Sprintf("svboot: "+format, a...)
	if s.Log != nil {
		fmt.Fprintln(s.Log, line)
	}
	if s.Term != nil && s.Term != s.Log {
		fmt.Fprint(s.Term, line+"\n")
	}
}

// Run does it all. It returns only when nothing was booted: with the
// error why, or after the chained program could not be started; a
// successful kexec request ends in Wait.
func (s *Service) Run(ctx context.Context) error {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	entries, unmount, err := s.Find(ctx)
	if unmount == nil {
		unmount = func() error { return nil }
	}
	if err != nil {
		unmount()
		return s.fallBack(fmt.Errorf("find the boot entries: %w", err))
	}
	if len(entries) == 0 {
		unmount()
		return s.fallBack(errors.New("no boot entries on the local disks (GRUB, syslinux/extlinux or Boot Loader Specification configs)"))
	}
	s.say("%d boot entries found in %v", len(entries), since(now, start))

	def := 0
	if s.Default != "" {
		if def, err = Pick(entries, s.Default); err != nil {
			s.say("default %s: %v; the first entry is the default", s.Default, err)
			def = 0
		}
	}
	m := &Menu{Entries: entries, Default: def, Timeout: s.Timeout, Keys: s.Keys, Out: s.Term, After: s.After, Shell: len(s.Chain) > 0}
	if m.Out == nil {
		m.Out = io.Discard
	}
	var (
		chosen int
		how    string
	)
	if s.Boot != "" {
		m.Show()
		if chosen, err = Pick(entries, s.Boot); err != nil {
			s.say("svinit.boot=%s: %v; showing the menu", s.Boot, err)
			chosen, how, err = m.Choose()
		} else {
			how = "svinit.boot=" + s.Boot
		}
	} else {
		chosen, how, err = m.Choose()
	}
	if err != nil {
		unmount()
		if errors.Is(err, ErrShell) {
			return s.chain()
		}
		return s.fallBack(err)
	}
	e := entries[chosen]
	s.say("boot %d) %s (%s, %s on %s): kernel command line %q", chosen+1, e.Title, how, e.Format, e.Device, e.Cmdline())
	if s.DryRun {
		unmount()
		s.say("dry run (-n): not loaded")
		return nil
	}
	t := now()
	err = s.Load(e)
	if uerr := unmount(); uerr != nil {
		s.say("%v", uerr)
	}
	if err != nil {
		return s.fallBack(fmt.Errorf("load %s: %w", e.Title, err))
	}
	s.say("loaded %s in %v; asking svinit for kexec (services stop first)", e.Title, since(now, t))
	if err := s.Kexec(); err != nil {
		return s.fallBack(err)
	}
	if s.Wait != nil {
		s.Wait()
	}
	return nil
}

// fallBack says why nothing boots, then execs the chained program if
// there is one; else it returns err.
func (s *Service) fallBack(err error) error {
	s.say("%v", err)
	if len(s.Chain) == 0 {
		return err
	}
	return s.chain()
}

func (s *Service) chain() error {
	if len(s.Chain) == 0 {
		return nil
	}
	s.say("exec %s", strings.Join(s.Chain, " "))
	return s.Exec(s.Chain)
}

func since(now func() time.Time, t time.Time) time.Duration {
	d := now().Sub(t)
	if d > time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
