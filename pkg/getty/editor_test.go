package getty

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// editorPty is a line editor on a pseudo-terminal's slave, in getty's
// settings; the master's output is drained into out.
type editorPty struct {
	m    *os.File
	fd   int
	ed   *lineEditor
	mu   sync.Mutex
	out  bytes.Buffer
	more chan struct{} // a token after each read of the master
}

// waitOutput waits until the terminal's output holds want (or a
// generous time passes) and returns it.
func (p *editorPty) waitOutput(want string) (string, bool) {
	deadline := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		out := p.out.String()
		p.mu.Unlock()
		if strings.Contains(out, want) {
			return out, true
		}
		select {
		case <-p.more:
		case <-deadline:
			return out, false
		}
	}
}

func newEditorPty(t *testing.T, cols uint16) *editorPty {
	t.Helper()
	m, slave := openPty(t)
	fd, err := unix.Open(slave, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := SetTerminal(fd, 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatal(err)
	}
	p := &editorPty{m: m, fd: fd, more: make(chan struct{}, 1)}
	p.ed, err = newLineEditor(fd, os.NewFile(uintptr(fd), slave))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			select {
			case p.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// readLine types keys once the editor shows its prompt (in its mode:
// typed before, they would get the line discipline's canonical
// editing, as what is typed while a command runs does) and returns
// what ReadLine returns.
func (p *editorPty) readLine(t *testing.T, keys string) (string, error) {
	t.Helper()
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := p.ed.ReadLine("# ")
		done <- result{line, err}
	}()
	if out, ok := p.waitOutput("# "); !ok {
		t.Fatalf("no prompt: %q", out)
	}
	p.m.Write([]byte(keys))
	select {
	case r := <-done:
		return r.line, r.err
	case <-time.After(60 * time.Second):
		t.Fatalf("ReadLine did not return after %q", keys)
		return "", nil
	}
}

func TestLineEditorKeys(t *testing.T) {
	const (
		left  = "\x1b[D"
		right = "\x1b[C"
		up    = "\x1b[A"
		down  = "\x1b[B"
		home  = "\x1b[H"
		end   = "\x1bOF"
		del   = "\x1b[3~"
	)
	for _, tc := range []struct {
		name    string
		history []string
		keys    string
		want    string
		err     error
	}{
		{"plain", nil, "echo hi\r", "echo hi", nil},
		{"LF ends too", nil, "echo hi\n", "echo hi", nil},
		{"insert in the middle", nil, "abc" + left + left + "X\r", "aXbc", nil},
		{"home and end", nil, "bc" + home + "a" + end + "d\r", "abcd", nil},
		{"^A ^E ^B ^F", nil, "bd\x01a\x05\x02c\x06e\r", "abcde", nil},
		{"backspace DEL and ^H", nil, "abcd\x7f\x08e\r", "abe", nil},
		{"backspace in the middle", nil, "abcd" + left + "\x7f\r", "abd", nil},
		{"delete key and ^D", nil, "abcd" + home + del + "\x04\r", "cd", nil},
		{"^U", nil, "abc def" + left + left + "\x15\r", "ef", nil},
		{"^K", nil, "abc def" + left + left + left + "\x0b\r", "abc ", nil},
		{"^W", nil, "echo abc  def  \x17\r", "echo abc  ", nil},
		{"history up", []string{"one", "two"}, up + up + "\r", "one", nil},
		{"history up and down keeps the new line", []string{"one", "two"}, "new" + up + up + down + down + "\r", "new", nil},
		{"history ^P ^N", []string{"one", "two"}, "\x10\x10\x0e\r", "two", nil},
		{"history past the ends", []string{"one"}, up + up + up + down + down + up + "\r", "one", nil},
		{"^C", nil, "abc\x03", "", errInterrupted},
		{"^D on an empty line", nil, "\x04", "", io.EOF},
		{"UTF-8", nil, "caf\xc3\xa9" + left + "\x7f\r", "caé", nil},
		{"unknown sequences ignored", nil, "a\x1b[5~\x1b[1;5Cb\x1bxc\r", "abc", nil},
		{"right past the end", nil, "ab" + right + right + "c\r", "abc", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newEditorPty(t, 80)
			for _, h := range tc.history {
				p.ed.Add(h)
			}
			got, err := p.readLine(t, tc.keys)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("ReadLine after %q = %q, %v; want %q, %v", tc.keys, got, err, tc.want, tc.err)
			}
		})
	}
}

// TestLineEditorLongLine: a line wider than the terminal scrolls within
// its row and comes back whole; the editor writes no line feed before
// the Enter and asks the terminal nothing.
func TestLineEditorLongLine(t *testing.T) {
	p := newEditorPty(t, 20)
	long := strings.Repeat("0123456789", 5)
	got, err := p.readLine(t, long+"\x01X\x05Y\r")
	if err != nil || got != "X"+long+"Y" {
		t.Fatalf("ReadLine = %q, %v", got, err)
	}
	// The editor wrote all of it before ReadLine returned; the end of
	// the line is its last output.
	out, ok := p.waitOutput("\r\n")
	if !ok {
		t.Fatalf("no end of line in the output: %q", out)
	}
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\r\n") {
		t.Errorf("line feeds before the Enter: %q", out)
	}
	if strings.Contains(out, "\x1b[6n") || strings.Contains(out, "\x1b]") {
		t.Errorf("the editor queried the terminal: %q", out)
	}
	// Scrolled within 20 columns: no run of the line longer than fits.
	if strings.Contains(out, long[:20]) {
		t.Errorf("more of the line than the terminal is wide written at once: %q", out)
	}
}

// TestLineEditorReadsNoFurther: what is typed after the Enter stays in
// the terminal for whoever reads next (a command), with its Enter as a
// newline, and the terminal is back in canonical mode; whether it was
// typed while the editor read (its mode) or before (while a command
// ran).
func TestLineEditorReadsNoFurther(t *testing.T) {
	for _, typedAhead := range []bool{false, true} {
		p := newEditorPty(t, 80)
		var got string
		var err error
		if typedAhead {
			p.m.Write([]byte("first\rsecond\r"))
			got, err = p.ed.ReadLine("# ")
		} else {
			got, err = p.readLine(t, "first\rsecond\r")
		}
		if err != nil || got != "first" {
			t.Fatalf("typed ahead %v: ReadLine = %q, %v", typedAhead, got, err)
		}
		tio, err := unix.IoctlGetTermios(p.fd, unix.TCGETS)
		if err != nil || tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 {
			t.Fatalf("typed ahead %v: terminal not back in canonical mode with echo: %+v %v", typedAhead, tio, err)
		}
		buf := make([]byte, 64)
		n, err := unix.Read(p.fd, buf)
		if err != nil || string(buf[:n]) != "second\n" {
			t.Fatalf("typed ahead %v: next read = %q, %v; want %q", typedAhead, buf[:n], err, "second\n")
		}
	}
}
