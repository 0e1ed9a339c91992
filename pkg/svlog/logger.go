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
	NoPeek    bool          // never use tee(2) on a pipe: read it like s6-log does
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

	peek       bool // input is a pipe: tee, write, then consume
	tpr, tpw   int  // internal pipe for tee(2)
	null       int  // /dev/null, to splice consumed bytes into
	unconsumed int  // bytes processed but still in the input pipe

	epfd       int
	inReady    bool // peek mode: the pipe may hold data not looked at yet
	inHup      bool // peek mode: the writers are gone
	stalled    bool // peek mode: the pipe holds only part of a line
	stallSize  int
	stallSince time.Time
	stallDelay time.Duration
	stallSpins int

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
	l := &Logger{opts: opts, sc: sc, in: in, stdout: stdout, stderr: stderr, wakeR: -1, wakeW: -1, tpr: -1, tpw: -1, null: -1, epfd: -1}
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

// wake rings the self-pipe. It is called from other goroutines; the
// write end is only closed under l.mu, so a late call never writes to a
// closed (or reused) descriptor.
func (l *Logger) wake() {
	l.mu.Lock()
	if l.wakeW >= 0 {
		unix.Write(l.wakeW, []byte{0})
	}
	l.mu.Unlock()
}

// Run processes input until EOF or a TERM/HUP, then flushes and
// finalizes every log directory. It returns nil on a clean exit.
func (l *Logger) Run() error {
	defer l.Close()
	if !l.opts.NoPeek {
		l.setupPeek()
		defer l.closePeek()
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return fmt.Errorf("create self-pipe: %w", err)
	}
	l.mu.Lock()
	l.wakeR, l.wakeW = p[0], p[1]
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		unix.Close(p[0])
		unix.Close(p[1])
		l.wakeR, l.wakeW = -1, -1
		l.mu.Unlock()
	}()

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

	if l.peek {
		if err := l.setupEpoll(); err != nil {
			return err
		}
		defer unix.Close(l.epfd)
	}
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
		if l.unconsumed > 0 && pendingBytes == 0 {
			l.consume()
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
		wake, in, hup, err := l.wait(timeout, wantRead)
		if err != nil {
			return err
		}
		if wake {
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
		switch {
		case in:
			if l.unconsumed > 0 {
				// Without -b, output is stuck and reading goes on: the
				// unwritten lines now live in memory only.
				l.consume()
			}
			l.readInput(hup)
		case wantRead && l.stalled:
			l.readInput(hup) // look again at the partial line
		}
		if l.lastLine && l.opts.LastLine > 0 && !l.exiting && !time.Now().Before(l.lastDL) {
			// Give up waiting for the end of the last line.
			l.finishPartial()
			l.exiting = true
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

// setupPeek enables peeking when the input is a pipe: data is then
// duplicated with tee(2), processed and written, and only then consumed
// from the pipe, so that a logger killed at any moment leaves every line
// it has not written yet in the pipe for its successor.
func (l *Logger) setupPeek() {
	var st unix.Stat_t
	if err := unix.Fstat(l.in, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return
	}
	null, err := unix.Open("/dev/null", unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		null = -1
	}
	l.peek, l.tpr, l.tpw, l.null = true, p[0], p[1], null
}

func (l *Logger) closePeek() {
	if l.tpr >= 0 {
		unix.Close(l.tpr)
		unix.Close(l.tpw)
	}
	if l.null >= 0 {
		unix.Close(l.null)
	}
	l.peek, l.tpr, l.tpw, l.null = false, -1, -1, -1
}

// consume removes from the input pipe the bytes already processed.
func (l *Logger) consume() {
	for l.unconsumed > 0 {
		var n int
		var err error
		if l.null >= 0 {
			var n64 int64
			n64, err = spliceN(l.in, l.null, l.unconsumed)
			n = int(n64)
			if err == unix.EINVAL || err == unix.ENOSYS {
				unix.Close(l.null)
				l.null = -1
				continue
			}
		} else {
			if cap(l.scratch) < 4096 {
				l.scratch = make([]byte, 0, 65536)
			}
			k := min(l.unconsumed, cap(l.scratch))
			n, err = unix.Read(l.in, l.scratch[:k])
		}
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil || n <= 0 {
			// Should not happen: the bytes were there when peeked.
			l.warnf("consume %d processed bytes from stdin: %v (another reader on the pipe?)", l.unconsumed, err)
			l.unconsumed = 0
			return
		}
		l.unconsumed -= n
	}
}

func spliceN(from, to, n int) (int64, error) {
	r, err := unix.Splice(from, nil, to, nil, n, 0)
	return int64(r), err
}

// fill gets more input into l.buf: in peek mode the bytes are copied
// from the pipe but stay there; otherwise they are read. It returns the
// number of new bytes, 0 at end of input, -1 when nothing is available.
func (l *Logger) fill() int {
	b := l.buf
	if cap(b)-len(b) < 4096 {
		nb := make([]byte, len(b), 2*cap(b))
		copy(nb, b)
		b = nb
		l.buf = b
	}
	c := len(b)
	want := cap(b) - c
	if l.peek {
		n64, err := unix.Tee(l.in, l.tpw, want, unix.SPLICE_F_NONBLOCK)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			return -1
		case err == unix.EINVAL || err == unix.ENOSYS:
			l.closePeek()
			return l.fill()
		case err != nil:
			l.warnf("read from stdin: %v", err)
			return 0
		}
		n := int(n64)
		for got := 0; got < n; {
			k, err := unix.Read(l.tpr, b[c+got:c+n])
			if err == unix.EINTR {
				continue
			}
			if err != nil || k <= 0 {
				l.warnf("read from internal pipe: %v", err)
				l.closePeek()
				return -1
			}
			got += k
		}
		return n
	}
	if l.lastLine {
		want = 1
	}
	n, err := unix.Read(l.in, b[c:c+want])
	if err != nil {
		if err == unix.EINTR || err == unix.EAGAIN {
			return -1
		}
		if err != unix.EPIPE {
			l.warnf("read from stdin: %v", err)
		}
		return 0
	}
	return n
}

// setupEpoll prepares waiting in peek mode. The input pipe is watched
// edge-triggered: Linux (5.16 on) reports every write to a pipe to an
// edge-triggered watcher, so that svlog learns when the rest of a
// partial line arrives without taking the partial line out of the pipe.
func (l *Logger) setupEpoll() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, l.wakeR, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.wakeR)}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, l.in, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(l.in)}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("epoll_ctl on stdin: %w", err)
	}
	// inReady starts false: EPOLL_CTL_ADD reports input already there,
	// and reading a FIFO that never had a writer would return EOF.
	l.epfd = fd
	return nil
}

// wait blocks until a signal or processor event (wake), input to read
// (in; hup when the writers are gone), or the timeout in milliseconds.
func (l *Logger) wait(timeout int, wantRead bool) (wake, in, hup bool, err error) {
	if !l.peek {
		pfd := [2]unix.PollFd{{Fd: int32(l.wakeR), Events: unix.POLLIN}, {Fd: int32(l.in), Events: unix.POLLIN}}
		nfd := 1
		if wantRead {
			nfd = 2
		}
		n, err := unix.Poll(pfd[:nfd], timeout)
		if err != nil && err != unix.EINTR {
			return false, false, false, fmt.Errorf("poll: %w", err)
		}
		if n <= 0 {
			return false, false, false, nil
		}
		return pfd[0].Revents != 0, nfd == 2 && pfd[1].Revents != 0, pfd[1].Revents&(unix.POLLHUP|unix.POLLERR) != 0, nil
	}
	if wantRead {
		switch {
		case l.inReady && !l.stalled:
			timeout = 0
		case l.stalled && l.stallDelay == 0:
			timeout = 0 // spin: look again at once
		case l.stalled && l.stallDelay < time.Millisecond:
			// Short looks first: the writer is most likely about to
			// complete the line, and a writer that was blocked on a full
			// pipe does not report its writes to an edge-triggered watcher.
			time.Sleep(l.stallDelay)
			timeout = 0
		case l.stalled:
			if ms := int(l.stallDelay / time.Millisecond); timeout < 0 || timeout > ms {
				timeout = ms
			}
		}
	}
	var evs [2]unix.EpollEvent
	n, err := unix.EpollWait(l.epfd, evs[:], timeout)
	if err != nil && err != unix.EINTR {
		return false, false, false, fmt.Errorf("epoll_wait: %w", err)
	}
	for _, ev := range evs[:max(n, 0)] {
		switch ev.Fd {
		case int32(l.wakeR):
			wake = true
		case int32(l.in):
			l.inReady = true
			l.stalled = false
			if ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				l.inHup = true
			}
		}
	}
	return wake, wantRead && l.inReady, l.inHup, nil
}

// stallMax is how long a partial line may sit in the input pipe before
// svlog takes it out (where a SIGKILL would lose it).
const stallMax = time.Second

// stallFirstLook is when svlog first looks at a partial line again if no
// write to the pipe was reported; the delay then doubles up to
// stallMaxLook. Linux does not report every write to an edge-triggered
// watcher (not before 5.16, and not the writes of a writer that had to
// wait for room in the pipe), hence the looks.
const (
	stallSpins     = 100 // immediate looks first: the writer is usually mid-write
	stallFirstLook = 50 * time.Microsecond
	stallMaxLook   = 250 * time.Millisecond
)

// stall records that only n bytes of an incomplete line were seen. It
// returns false when the line has made no progress for stallMax.
func (l *Logger) stall(n int) bool {
	now := time.Now()
	if !l.stalled || n != l.stallSize {
		if !l.stalled {
			l.stallDelay, l.stallSpins = 0, 0
		}
		l.stalled, l.stallSize, l.stallSince = true, n, now
		return true
	}
	if now.Sub(l.stallSince) >= stallMax {
		return false
	}
	if l.stallSpins < stallSpins {
		l.stallSpins++
		return true
	}
	l.stallDelay = min(max(2*l.stallDelay, stallFirstLook), stallMaxLook)
	return true
}

// readInput gets what input is available and processes every complete
// line. After a TERM or HUP with a partial line pending it stops at the
// end of that line and takes nothing after it from the pipe.
func (l *Logger) readInput(hup bool) {
	c := len(l.buf)
	n := l.fill()
	if n < 0 {
		l.inReady = false
		return
	}
	if n == 0 {
		l.finishPartial()
		l.exiting = true
		return
	}
	b := l.buf[:c+n]
	ll := l.opts.LineLimit
	start, scan := 0, c // b[start:scan] holds no terminator
	var now time.Time
	stamped, emitted := false, false
	for !(emitted && l.lastLine) {
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
		if l.peek && l.batchFull() {
			break
		}
	}
	switch {
	case l.peek && emitted:
		l.stalled, l.inReady = false, true
		// Processed up to start; the rest stays in the pipe and will be
		// peeked again. The bytes are consumed once written.
		l.unconsumed += start - c
		l.buf = b[:0]
	case l.peek && !hup && n < cap(b)-c && l.stall(n):
		// Only part of a line is in the pipe: leave it there until more
		// input arrives (or for stallMax at most).
		l.buf = b[:c]
		l.inReady = false
	case l.peek:
		// A partial line that has been sitting there too long, the writer
		// gone, or the buffer full: take it out of the pipe so that the
		// logger can wait for more input without spinning.
		l.unconsumed += n
		l.consume()
		l.buf = b
		// Look again at once: only a read that finds the pipe empty
		// guarantees that the next write will be reported.
		l.stalled, l.inReady = false, true
	default:
		k := copy(b, b[start:])
		l.buf = b[:k]
		if l.lastLine && emitted {
			l.finishPartial()
		}
	}
	if l.lastLine && emitted {
		l.exiting = true
	}
}

// batchFull reports whether a log directory's queue reached its rotation
// threshold: in peek mode the batch then ends, so that it is written and
// consumed from the pipe before the rotation runs.
func (l *Logger) batchFull() bool {
	for _, d := range l.dirs {
		if d.full() {
			return true
		}
	}
	return false
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
