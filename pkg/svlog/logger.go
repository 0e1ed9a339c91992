package svlog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options are svlog's command-line options.
type Options struct {
	NotifyFd  int           // -d: write "\n" there when ready, then close; <0: none
	Verbosity int           // -q/-v: 0 alerts and fatal errors only, 1 also warnings (default)
	Block     bool          // -b: read no more input while output is pending
	Protect   bool          // -p: ignore SIGTERM
	LineLimit int           // -l: split longer lines (0: no limit)
	LastLine  time.Duration // -t: on TERM/HUP, wait at most this long for the end of a partial line (0: forever)
	Prog      string        // name in messages, "svlog" by default
}

// maxPending is how much output may wait without -b before svlog stops
// reading its input anyway (s6-log has no bound).
const maxPending = 4 << 20

const readSize = 64 << 10

// Logger runs a compiled script over an input descriptor.
type Logger struct {
	opts   Options
	sc     *Script
	acts   [][]Action // per element, mutable copy (stdout actions get disabled)
	dirs   []*Logdir
	in     int
	stdout io.Writer
	stderr io.Writer

	buf     []byte // input: buf[:n] holds an incomplete line
	outBuf  []byte // pending stdout data
	st      stamper
	scratch []byte

	exiting  bool // stop reading input
	lastLine bool // TERM/HUP arrived with a partial line pending
	lastDL   time.Time

	wakeR, wakeW int
	mu           sync.Mutex
	procEvents   []procEvent
}

type procEvent struct {
	d   *Logdir
	err error
}

func (l *Logger) warnf(format string, a ...any) {
	if l.opts.Verbosity > 0 {
		fmt.Fprintf(l.stderr, "%s: warning: %s\n", l.opts.Prog, fmt.Sprintf(format, a...))
	}
}

// New compiles nothing: it opens the script's log directories (creating,
// locking and recovering them) and returns a logger ready to Run. The
// caller must Close it if Run is not called.
func New(sc *Script, opts Options, in int, stdout, stderr io.Writer) (*Logger, error) {
	if opts.Prog == "" {
		opts.Prog = "svlog"
	}
	if opts.LineLimit > 0 && opts.LineLimit < MinLineLimit {
		opts.LineLimit = MinLineLimit
	}
	l := &Logger{opts: opts, sc: sc, in: in, stdout: stdout, stderr: stderr, wakeR: -1, wakeW: -1}
	for _, w := range sc.Warnings {
		l.warnf("%s", w)
	}
	old := unix.Umask(0)
	unix.Umask(old)
	mask := uint32(0o666 &^ old)
	seen := map[string]bool{}
	for _, cfg := range sc.Dirs {
		cp := cleanPath(cfg.Path)
		if seen[cp] {
			l.Close()
			return nil, fmt.Errorf("logdir %s: named twice in the logging script", cfg.Path)
		}
		seen[cp] = true
		d, err := OpenLogdir(cfg, mask, l.warnf)
		if err != nil {
			l.Close()
			return nil, err
		}
		d.procDone = l.processorDone
		l.dirs = append(l.dirs, d)
	}
	for _, e := range sc.Elems {
		l.acts = append(l.acts, append([]Action(nil), e.Acts...))
	}
	size := readSize
	if opts.LineLimit > 0 {
		size += opts.LineLimit
	}
	l.buf = make([]byte, 0, size)
	return l, nil
}

// Close releases every log directory without finalizing.
func (l *Logger) Close() {
	for _, d := range l.dirs {
		d.Close()
	}
}

func (l *Logger) processorDone(d *Logdir, err error) {
	l.mu.Lock()
	l.procEvents = append(l.procEvents, procEvent{d, err})
	l.mu.Unlock()
	l.wake()
}

func (l *Logger) wake() {
	if l.wakeW >= 0 {
		unix.Write(l.wakeW, []byte{0})
	}
}

// Run processes input until EOF or a TERM/HUP, then flushes and
// finalizes every log directory. It returns nil on a clean exit.
func (l *Logger) Run() error {
	defer l.Close()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("create self-pipe: %w", err)
	}
	l.wakeR, l.wakeW = p[0], p[1]
	defer func() { unix.Close(p[0]); unix.Close(p[1]); l.wakeR, l.wakeW = -1, -1 }()

	sigc := make(chan os.Signal, 16)
	signal.Notify(sigc, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGALRM, syscall.SIGPIPE)
	defer signal.Stop(sigc)
	var sigMu sync.Mutex
	var sigs []os.Signal
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case s := <-sigc:
				sigMu.Lock()
				sigs = append(sigs, s)
				sigMu.Unlock()
				l.wake()
			case <-stop:
				return
			}
		}
	}()

	if l.opts.NotifyFd >= 0 {
		unix.Write(l.opts.NotifyFd, []byte{'\n'})
		unix.Close(l.opts.NotifyFd)
	}

	pfd := make([]unix.PollFd, 2)
	var drain [64]byte
	for {
		now := time.Now()
		l.flushStdout()
		pending, pendingBytes := false, len(l.outBuf)
		var deadline time.Time
		for _, d := range l.dirs {
			if d.Ready(now) {
				d.Flush()
			}
			if d.Pending() {
				pending = true
				pendingBytes += d.PendingBytes()
				if dl := d.Deadline(); !dl.IsZero() && (deadline.IsZero() || dl.Before(deadline)) {
					deadline = dl
				}
			}
		}
		if l.exiting && !pending {
			break
		}
		wantRead := !l.exiting
		if l.opts.Block {
			wantRead = wantRead && !pending
		} else {
			wantRead = wantRead && pendingBytes < maxPending
		}
		if l.lastLine && l.opts.LastLine > 0 && (deadline.IsZero() || l.lastDL.Before(deadline)) {
			deadline = l.lastDL
		}
		timeout := -1
		if !deadline.IsZero() {
			ms := time.Until(deadline).Milliseconds() + 1
			timeout = int(max(ms, 0))
		}
		pfd[0] = unix.PollFd{Fd: int32(l.wakeR), Events: unix.POLLIN}
		nfd := 1
		if wantRead {
			pfd[1] = unix.PollFd{Fd: int32(l.in), Events: unix.POLLIN}
			nfd = 2
		}
		n, err := unix.Poll(pfd[:nfd], timeout)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("poll: %w", err)
		}
		if n <= 0 {
			if l.lastLine && l.opts.LastLine > 0 && !time.Now().Before(l.lastDL) {
				// Give up waiting for the end of the last line.
				l.finishPartial()
				l.exiting = true
			}
			continue
		}
		if pfd[0].Revents != 0 {
			for {
				if k, _ := unix.Read(l.wakeR, drain[:]); k <= 0 {
					break
				}
			}
			sigMu.Lock()
			ss := sigs
			sigs = nil
			sigMu.Unlock()
			for _, s := range ss {
				l.signal(s.(syscall.Signal))
			}
			l.mu.Lock()
			evs := l.procEvents
			l.procEvents = nil
			l.mu.Unlock()
			for _, e := range evs {
				e.d.ProcessorDone(e.err)
			}
			continue // re-evaluate before reading: TERM may have arrived
		}
		if nfd == 2 && pfd[1].Revents != 0 {
			l.readInput()
		}
	}
	// Finalize every directory, retrying after cooldowns.
	for {
		var deadline time.Time
		done := true
		for _, d := range l.dirs {
			if d.fd < 0 {
				continue
			}
			if time.Now().Before(d.deadline) || !d.Finalize() {
				done = false
				if deadline.IsZero() || d.deadline.Before(deadline) {
					deadline = d.deadline
				}
			}
		}
		if done {
			break
		}
		time.Sleep(time.Until(deadline))
	}
	return nil
}

func (l *Logger) signal(s syscall.Signal) {
	switch s {
	case syscall.SIGALRM:
		for _, d := range l.dirs {
			d.Rotate()
		}
	case syscall.SIGTERM, syscall.SIGHUP:
		if s == syscall.SIGTERM && l.opts.Protect {
			return
		}
		if l.exiting {
			return
		}
		if len(l.buf) == 0 {
			l.exiting = true
			return
		}
		if !l.lastLine {
			l.lastLine = true
			l.lastDL = time.Now().Add(l.opts.LastLine)
		}
	}
}

// readInput reads what is available and processes every complete line.
// In last-line mode it reads one byte at a time so that nothing after
// the end of the current line is taken from the pipe.
func (l *Logger) readInput() {
	b := l.buf
	if cap(b)-len(b) < 4096 {
		nb := make([]byte, len(b), 2*cap(b))
		copy(nb, b)
		b = nb
	}
	want := cap(b) - len(b)
	if l.lastLine {
		want = 1
	}
	n, err := unix.Read(l.in, b[len(b):len(b)+want])
	if err != nil {
		if err == unix.EINTR || err == unix.EAGAIN {
			l.buf = b
			return
		}
		if err != unix.EPIPE {
			l.warnf("read from stdin: %v", err)
		}
		n = 0
	}
	if n == 0 {
		l.buf = b
		l.finishPartial()
		l.exiting = true
		return
	}
	b = b[:len(b)+n]
	ll := l.opts.LineLimit
	start, scan := 0, len(b)-n // b[start:scan] holds no terminator
	var now time.Time
	stamped, emitted := false, false
	for {
		end := -1
		rest := b[scan:]
		i := bytes.IndexByte(rest, '\n')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if z := bytes.IndexByte(seg, 0); z >= 0 {
			i = z
		}
		if i >= 0 {
			end = scan + i
		}
		next := end + 1
		if ll > 0 && ((end < 0 && len(b)-start > ll) || end-start > ll) {
			end, next = start+ll, start+ll
		}
		if end < 0 {
			break
		}
		if !stamped || l.sc.NeedTAI || l.sc.NeedISO {
			now, stamped = time.Now(), true
		}
		l.line(b[start:end], now)
		emitted = true
		start, scan = next, next
	}
	k := copy(b, b[start:])
	l.buf = b[:k]
	if l.lastLine && emitted {
		l.finishPartial()
		l.exiting = true
	}
}

// finishPartial processes an incomplete last line as if it ended there.
func (l *Logger) finishPartial() {
	if len(l.buf) > 0 {
		l.line(l.buf, time.Now())
		l.buf = l.buf[:0]
	}
}

// line runs the script over one line (without its terminator).
func (l *Logger) line(s []byte, now time.Time) {
	if l.sc.NeedTAI || l.sc.NeedISO {
		l.st.set(now, l.sc.NeedTAI, l.sc.NeedISO)
	}
	selected, acted := true, false
	for ei := range l.sc.Elems {
		e := &l.sc.Elems[ei]
		for j := range e.Sels {
			sel := &e.Sels[j]
			switch sel.Kind {
			case SelDefault:
				selected = !acted
			case SelPlus:
				if !selected && sel.Re.Match(s) {
					selected = true
				}
			case SelMinus:
				if selected && sel.Re.Match(s) {
					selected = false
				}
			}
		}
		if !selected {
			continue
		}
		acted = true
		for ai := range l.acts[ei] {
			a := &l.acts[ei][ai]
			switch a.Kind {
			case ActDir:
				d := l.dirs[a.Dir]
				d.out = l.compose(d.out, a, s)
			case ActStdout:
				l.outBuf = l.compose(l.outBuf, a, s)
			case ActAlert:
				l.alert(a, s)
			case ActStatus:
				l.status(a, s)
			}
		}
	}
}

// compose appends stamps, prefix, the line and a newline to b.
func (l *Logger) compose(b []byte, a *Action, s []byte) []byte {
	if a.TAI {
		b = append(b, l.st.tai[:]...)
	}
	if a.ISO {
		b = append(b, l.st.iso[:]...)
	}
	if a.HasPfx {
		b = append(b, a.Prefix...)
		b = append(b, ' ')
	}
	b = append(b, s...)
	return append(b, '\n')
}

func (l *Logger) alert(a *Action, s []byte) {
	b := append(l.scratch[:0], l.opts.Prog...)
	b = append(b, ": alert: "...)
	if a.Size > 0 && a.Size+3 < len(s) {
		b = l.compose(b, a, s[:a.Size])
		b = append(b[:len(b)-1], "...\n"...)
	} else {
		b = l.compose(b, a, s)
	}
	l.stderr.Write(b)
	l.scratch = b
}

func (l *Logger) status(a *Action, s []byte) {
	b := l.compose(l.scratch[:0], a, s)
	if a.Size > 0 {
		if len(b) > a.Size {
			b = b[:a.Size]
		} else {
			for len(b) < a.Size {
				b = append(b, '\n')
			}
		}
	}
	l.scratch = b
	tmp := a.File + ".new"
	err := os.WriteFile(tmp, b, 0o666)
	if err == nil {
		err = os.Rename(tmp, a.File)
	}
	if err != nil {
		l.warnf("unable to write status file %s: %v", a.File, err)
	}
}

func (l *Logger) flushStdout() {
	if len(l.outBuf) == 0 {
		return
	}
	_, err := l.stdout.Write(l.outBuf)
	l.outBuf = l.outBuf[:0]
	if err != nil {
		if !errors.Is(err, syscall.EPIPE) || l.opts.Verbosity > 0 {
			fmt.Fprintf(l.stderr, "%s: warning: unable to write to stdout, closing the stream - error was: %v\n", l.opts.Prog, err)
		}
		for i := range l.acts {
			for j := range l.acts[i] {
				if l.acts[i][j].Kind == ActStdout {
					l.acts[i][j].Kind = ActNothing
				}
			}
		}
	}
}
