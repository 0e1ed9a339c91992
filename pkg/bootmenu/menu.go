package bootmenu

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ErrShell is Choose's answer when the user asked to leave the menu for
// the shell (Menu.Shell).
var ErrShell = errors.New("the shell was asked for")

// How a choice was made, for the log.
const (
	ByTimeout = "after the countdown"
	ByKey     = "chosen on the console"
	ByDefault = "the default, confirmed on the console"
	AtOnce    = "no countdown"
)

// Menu shows the entries on a terminal and waits for a choice.
type Menu struct {
	Entries []Entry
	Default int // index of the default entry
	// Timeout is the countdown to booting the default: 0 boots it at
	// once, a negative one waits for a choice.
	Timeout time.Duration
	// Keys are the bytes typed on the terminal, one at a time (closed
	// when it has no more); nil: no keyboard.
	Keys  <-chan byte
	Out   io.Writer
	After func(time.Duration) <-chan time.Time // time.After
	// Shell offers "s": leave the menu for the program svboot chains to.
	Shell bool
}

// Show prints the numbered entries.
func (m *Menu) Show() {
	fmt.Fprintf(m.Out, "svboot: boot entries:\n")
	for i, e := range m.Entries {
		mark := " "
		if i == m.Default {
			mark = "*"
		}
		fmt.Fprintf(m.Out, " %s%2d) %s  [%s %s]\n", mark, i+1, e.Title, e.Device, e.Format)
	}
}

// Choose shows the menu and returns the index of the entry chosen and
// how: the default when the countdown runs out; a key stops the
// countdown; a number picks that entry (at once when there are fewer
// than ten entries, else with Enter); Enter alone picks the default; "s"
// (with Shell) returns ErrShell.
func (m *Menu) Choose() (int, string, error) {
	if len(m.Entries) == 0 {
		return -1, "", errors.New("no boot entries")
	}
	after := m.After
	if after == nil {
		after = time.After
	}
	m.Show()
	if m.Timeout == 0 {
		fmt.Fprintf(m.Out, "svboot: booting %d) %s\n", m.Default+1, m.Entries[m.Default].Title)
		return m.Default, AtOnce, nil
	}
	keys := m.Keys
	shell := ""
	if m.Shell {
		shell = ", s the shell"
	}
	if m.Timeout > 0 {
		secs := int((m.Timeout + time.Second - 1) / time.Second)
		fmt.Fprintf(m.Out, "svboot: booting %d) %s in %d s; a key stops the countdown, a number picks an entry%s:",
			m.Default+1, m.Entries[m.Default].Title, secs, shell)
		tick := time.Second
		left := m.Timeout
	countdown:
		for left > 0 {
			step := min(tick, left)
			select {
			case <-after(step):
				left -= step
				if left > 0 {
					fmt.Fprintf(m.Out, " %d", int((left+time.Second-1)/time.Second))
				}
			case k, ok := <-keys:
				if !ok {
					keys = nil // no keyboard: the countdown goes on
					continue
				}
				fmt.Fprintf(m.Out, "\n")
				if i, how, done, err := m.key(k); done {
					return i, how, err
				}
				if isDigit(k) {
					return m.line([]byte{k})
				}
				break countdown
			}
		}
		if left <= 0 {
			fmt.Fprintf(m.Out, "\nsvboot: booting %d) %s\n", m.Default+1, m.Entries[m.Default].Title)
			return m.Default, ByTimeout, nil
		}
	}
	return m.line(nil)
}

func isDigit(k byte) bool { return k >= '0' && k <= '9' }

// key handles one key of the countdown: done when it decides.
func (m *Menu) key(k byte) (int, string, bool, error) {
	switch {
	case k == '\r' || k == '\n':
		return m.Default, ByDefault, true, nil
	case m.Shell && (k == 's' || k == 'S'):
		fmt.Fprintf(m.Out, "svboot: leaving the menu for the shell\n")
		return -1, "", true, ErrShell
	case isDigit(k) && len(m.Entries) < 10:
		n := int(k - '0')
		if n >= 1 && n <= len(m.Entries) {
			fmt.Fprintf(m.Out, "svboot: booting %d) %s\n", n, m.Entries[n-1].Title)
			return n - 1, ByKey, true, nil
		}
	}
	return -1, "", false, nil
}

// line reads an entry number (typed begins it) ended by Enter.
func (m *Menu) line(typed []byte) (int, string, error) {
	prompt := func() {
		s := ""
		if m.Shell {
			s = ", s for the shell"
		}
		fmt.Fprintf(m.Out, "svboot: entry number (Enter: %d%s)? %s", m.Default+1, s, typed)
	}
	if m.Keys == nil {
		fmt.Fprintf(m.Out, "svboot: no keyboard; booting %d) %s\n", m.Default+1, m.Entries[m.Default].Title)
		return m.Default, ByTimeout, nil
	}
	prompt()
	for {
		k, ok := <-m.Keys
		if !ok {
			// The keyboard went away: nobody will choose.
			fmt.Fprintf(m.Out, "\nsvboot: no more input; booting %d) %s\n", m.Default+1, m.Entries[m.Default].Title)
			return m.Default, ByTimeout, nil
		}
		switch {
		case k == '\r' || k == '\n':
			fmt.Fprintf(m.Out, "\n")
			if len(typed) == 0 {
				fmt.Fprintf(m.Out, "svboot: booting %d) %s\n", m.Default+1, m.Entries[m.Default].Title)
				return m.Default, ByDefault, nil
			}
			n, err := strconv.Atoi(string(typed))
			if err == nil && n >= 1 && n <= len(m.Entries) {
				fmt.Fprintf(m.Out, "svboot: booting %d) %s\n", n, m.Entries[n-1].Title)
				return n - 1, ByKey, nil
			}
			fmt.Fprintf(m.Out, "svboot: no entry %s: 1 to %d\n", typed, len(m.Entries))
			typed = typed[:0]
			prompt()
		case k == 0x7f || k == 0x08:
			if len(typed) > 0 {
				typed = typed[:len(typed)-1]
				fmt.Fprintf(m.Out, "\b \b")
			}
		case k == 0x15: // ^U
			for range typed {
				fmt.Fprintf(m.Out, "\b \b")
			}
			typed = typed[:0]
		case isDigit(k) && len(typed) < 4:
			typed = append(typed, k)
			fmt.Fprintf(m.Out, "%c", k)
			if len(m.Entries) < 10 {
				n := int(k - '0')
				if len(typed) == 1 && n >= 1 && n <= len(m.Entries) {
					fmt.Fprintf(m.Out, "\nsvboot: booting %d) %s\n", n, m.Entries[n-1].Title)
					return n - 1, ByKey, nil
				}
			}
		case m.Shell && (k == 's' || k == 'S') && len(typed) == 0:
			fmt.Fprintf(m.Out, "\nsvboot: leaving the menu for the shell\n")
			return -1, "", ErrShell
		}
	}
}

// Keys reads r one byte at a time into a channel, closed at the end of
// r or on an error. The goroutine lives as long as r gives bytes.
func Keys(r io.Reader) <-chan byte {
	c := make(chan byte, 16)
	go func() {
		defer close(c)
		b := make([]byte, 1)
		for {
			n, err := r.Read(b)
			if n == 1 {
				c <- b[0]
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}
