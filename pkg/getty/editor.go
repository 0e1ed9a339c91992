package getty

import (
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// lineEditor is the console shell's line editor. It reads the terminal
// one byte per read(2), in raw mode only while a line is read, so it
// never takes a byte typed after the key that ended the line (that
// byte is for the command the line starts, or for the next line). It
// only writes to the terminal: the typed characters, carriage return,
// backspace and "erase to end of line" (ESC [ K, a VT100 sequence); it
// never asks the terminal anything (no cursor position or colour
// query), so a line that does not answer cannot make it wait. A line
// longer than the terminal is wide scrolls sideways within one row.
//
// Keys: printable characters insert; Backspace (DEL or ^H) and ^D
// delete (^D on an empty line is the end of input); ^A/Home, ^E/End,
// ^B/Left, ^F/Right move; ^U, ^K and ^W kill to the start, to the end,
// the word before; ^P/Up and ^N/Down walk the history; ^L redraws; ^C
// abandons the line; Enter (CR or LF) ends it.
type lineEditor struct {
	fd       int
	out      io.Writer
	raw, cmd *unix.Termios
	history  []string
	quiet    func() // called once ^C is no signal (see interrupter.quiet)

	// the line being edited
	prompt string
	buf    []rune
	pos    int // cursor, in buf
	off    int // first rune of buf shown (sideways scrolling)
}

// newLineEditor prepares the editor for the terminal fd; commands run
// in the terminal's current mode.
func newLineEditor(fd int, out io.Writer) (*lineEditor, error) {
	cmd, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *cmd
	raw.Lflag &^= unix.ICANON | unix.ECHO | unix.ISIG | unix.IEXTEN
	// ICRNL stays: what is typed after the Enter that ends a line is
	// received while the editor's mode holds, and a command reading it
	// in canonical mode needs its Enter as a newline too.
	raw.Iflag &^= unix.INLCR | unix.IGNCR | unix.IXON
	raw.Oflag &^= unix.ONLCR // the editor writes "\r\n" itself
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	return &lineEditor{fd: fd, out: out, raw: &raw, cmd: cmd}, nil
}

// readByte reads one byte of the terminal.
func (e *lineEditor) readByte() (byte, error) {
	var b [1]byte
	for {
		n, err := unix.Read(e.fd, b[:])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, io.EOF
		}
		return b[0], nil
	}
}

// width is the terminal's width, 80 when the kernel knows none.
func (e *lineEditor) width() int {
	if ws, err := unix.IoctlGetWinsize(e.fd, unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	return DefaultCols
}

// Keys, as bytes.
const (
	keyCtrlA = 0x01
	keyCtrlB = 0x02
	keyCtrlC = 0x03
	keyCtrlD = 0x04
	keyCtrlE = 0x05
	keyCtrlF = 0x06
	keyCtrlH = 0x08
	keyCtrlK = 0x0b
	keyCtrlL = 0x0c
	keyCtrlN = 0x0e
	keyCtrlP = 0x10
	keyCtrlU = 0x15
	keyCtrlW = 0x17
	keyEsc   = 0x1b
	keyDel   = 0x7f
)

func (e *lineEditor) ReadLine(prompt string) (string, error) {
	if err := unix.IoctlSetTermios(e.fd, unix.TCSETS, e.raw); err != nil {
		return "", err
	}
	defer unix.IoctlSetTermios(e.fd, unix.TCSETS, e.cmd)
	if e.quiet != nil {
		e.quiet()
	}
	e.prompt, e.buf, e.pos, e.off = prompt, e.buf[:0], 0, 0
	io.WriteString(e.out, prompt)
	hist := len(e.history) // the history entry shown; len = the new line
	var saved []rune       // the new line, while walking the history
	for {
		b, err := e.readByte()
		if err != nil {
			if err == io.EOF && len(e.buf) > 0 {
				io.WriteString(e.out, "\r\n")
				return string(e.buf), nil
			}
			return "", err
		}
		switch {
		case b == '\r' || b == '\n':
			if e.off > 0 || e.pos != len(e.buf) {
				e.pos, e.off = len(e.buf), 0
				e.redraw()
			}
			io.WriteString(e.out, "\r\n")
			return string(e.buf), nil
		case b == keyCtrlC:
			io.WriteString(e.out, "^C\r\n")
			return "", errInterrupted
		case b == keyCtrlD:
			if len(e.buf) == 0 {
				io.WriteString(e.out, "\r\n")
				return "", io.EOF
			}
			e.delete(e.pos, e.pos+1)
		case b == keyDel || b == keyCtrlH:
			e.backspace()
		case b == keyCtrlA:
			e.move(0)
		case b == keyCtrlE:
			e.move(len(e.buf))
		case b == keyCtrlB:
			e.move(e.pos - 1)
		case b == keyCtrlF:
			e.move(e.pos + 1)
		case b == keyCtrlU:
			e.delete(0, e.pos)
		case b == keyCtrlK:
			e.delete(e.pos, len(e.buf))
		case b == keyCtrlW:
			e.delete(wordStart(e.buf, e.pos), e.pos)
		case b == keyCtrlL:
			io.WriteString(e.out, "\r\n")
			e.redraw()
		case b == keyCtrlP || b == keyCtrlN:
			hist, saved = e.walk(hist, saved, b == keyCtrlP)
		case b == keyEsc:
			key, err := e.escape()
			if err != nil {
				return "", err
			}
			switch key {
			case 'A':
				hist, saved = e.walk(hist, saved, true)
			case 'B':
				hist, saved = e.walk(hist, saved, false)
			case 'C':
				e.move(e.pos + 1)
			case 'D':
				e.move(e.pos - 1)
			case 'H':
				e.move(0)
			case 'F':
				e.move(len(e.buf))
			case '3': // Delete
				e.delete(e.pos, e.pos+1)
			}
		case b >= 0x20:
			r, err := e.rune(b)
			if err != nil {
				return "", err
			}
			e.insert(r)
		}
	}
}

// escape reads the rest of an escape sequence (ESC [ ... final, ESC O
// final) and returns what it means: 'A'..'D' arrows, 'H' Home, 'F' End,
// '3' Delete, 0 anything else (ignored).
func (e *lineEditor) escape() (byte, error) {
	b, err := e.readByte()
	if err != nil {
		return 0, err
	}
	if b != '[' && b != 'O' {
		return 0, nil // Alt+key: ignored
	}
	var params []byte
	for {
		c, err := e.readByte()
		if err != nil {
			return 0, err
		}
		if c >= 0x40 && c <= 0x7e { // the final byte
			switch {
			case c == '~':
				switch string(params) {
				case "1", "7":
					return 'H', nil
				case "4", "8":
					return 'F', nil
				case "3":
					return '3', nil
				}
				return 0, nil
			case strings.IndexByte("ABCDHF", c) >= 0:
				return c, nil
			}
			return 0, nil
		}
		if len(params) < 16 {
			params = append(params, c)
		}
	}
}

// rune completes a UTF-8 sequence that starts with b.
func (e *lineEditor) rune(b byte) (rune, error) {
	if b < utf8.RuneSelf {
		return rune(b), nil
	}
	p := []byte{b}
	for !utf8.FullRune(p) && len(p) < utf8.UTFMax {
		c, err := e.readByte()
		if err != nil {
			return 0, err
		}
		p = append(p, c)
	}
	r, _ := utf8.DecodeRune(p)
	return r, nil
}

// room is how many runes of the line fit after the prompt.
func (e *lineEditor) room() int {
	n := e.width() - 1 - utf8.RuneCountInString(e.prompt)
	if n < 8 {
		n = 8
	}
	return n
}

func (e *lineEditor) insert(r rune) {
	e.buf = append(e.buf, 0)
	copy(e.buf[e.pos+1:], e.buf[e.pos:])
	e.buf[e.pos] = r
	e.pos++
	if e.pos == len(e.buf) && e.pos-e.off < e.room() {
		// Typed at the end of a line that fits: the character is all
		// the terminal needs, as a plain echo would show it.
		io.WriteString(e.out, string(r))
		return
	}
	e.redraw()
}

func (e *lineEditor) backspace() {
	if e.pos == 0 {
		return
	}
	if e.pos == len(e.buf) && e.off == 0 {
		e.buf = e.buf[:len(e.buf)-1]
		e.pos--
		io.WriteString(e.out, "\b \b")
		return
	}
	e.delete(e.pos-1, e.pos)
}

// delete removes buf[from:to] and leaves the cursor at from.
func (e *lineEditor) delete(from, to int) {
	if to > len(e.buf) {
		to = len(e.buf)
	}
	if from < 0 || from >= to {
		return
	}
	e.buf = append(e.buf[:from], e.buf[to:]...)
	e.pos = from
	e.redraw()
}

func (e *lineEditor) move(pos int) {
	if pos < 0 || pos > len(e.buf) || pos == e.pos {
		return
	}
	e.pos = pos
	e.redraw()
}

// walk shows the previous (back) or next history entry; hist is the
// entry shown (len(history) for the new line, kept in saved).
func (e *lineEditor) walk(hist int, saved []rune, back bool) (int, []rune) {
	switch {
	case back && hist > 0:
		if hist == len(e.history) {
			saved = append(saved[:0], e.buf...)
		}
		hist--
		e.buf = append(e.buf[:0], []rune(e.history[hist])...)
	case !back && hist < len(e.history):
		hist++
		if hist == len(e.history) {
			e.buf = append(e.buf[:0], saved...)
		} else {
			e.buf = append(e.buf[:0], []rune(e.history[hist])...)
		}
	default:
		return hist, saved
	}
	e.pos = len(e.buf)
	e.redraw()
	return hist, saved
}

// redraw writes the prompt and the visible part of the line again,
// erases what was after it, and puts the cursor back in place.
func (e *lineEditor) redraw() {
	room := e.room()
	if e.pos < e.off {
		e.off = e.pos
	}
	if e.pos-e.off >= room {
		e.off = e.pos - room + 1
	}
	end := min(len(e.buf), e.off+room)
	var b strings.Builder
	b.WriteString("\r")
	b.WriteString(e.prompt)
	b.WriteString(string(e.buf[e.off:end]))
	b.WriteString("\x1b[K")
	for i := end; i > e.pos; i-- {
		b.WriteByte('\b')
	}
	io.WriteString(e.out, b.String())
}

// wordStart is where the word before pos starts (blanks before it
// skipped first), as ^W erases.
func wordStart(buf []rune, pos int) int {
	i := pos
	for i > 0 && buf[i-1] == ' ' {
		i--
	}
	for i > 0 && buf[i-1] != ' ' {
		i--
	}
	return i
}

func (e *lineEditor) Add(line string) {
	if line == "" || strings.ContainsAny(line, "\n") {
		return
	}
	if n := len(e.history); n > 0 && e.history[n-1] == line {
		return
	}
	e.history = append(e.history, line)
	if len(e.history) > historyMax {
		e.history = e.history[len(e.history)-historyMax:]
	}
}

func (e *lineEditor) Close() {
	unix.IoctlSetTermios(e.fd, unix.TCSETS, e.cmd)
}
