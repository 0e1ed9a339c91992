package svlog

import (
	"fmt"
	"io"
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

// Logger runs a compiled script over an input descriptor. Its loop is
// Run, here; input.go reads the input (peeking at a pipe), lines.go cuts
// it into lines, actions.go selects and acts on each line, control.go
// handles signals and processor exits, and a Logdir (logdir.go,
// rotate.go, archive.go, processor.go) writes and rotates a directory.
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
	mu           sync.Mutex       // guards wakeW, sigs and procEvents
	sigs         []syscall.Signal // caught, not handled yet
	procEvents   []procEvent      // processors that exited, not handled yet
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

// Run processes input until EOF or a TERM/HUP, then flushes and
// finalizes every log directory. It returns nil on a clean exit.
func (l *Logger) Run() error {
	defer l.Close()
	if !l.opts.NoPeek {
		l.setupPeek()
		defer l.closePeek()
	}
	if err := l.openWake(); err != nil {
		return err
	}
	defer l.closeWake()
	defer l.catchSignals()()

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
	for {
		l.flushStdout()
		pending, pendingBytes, deadline := l.flushDirs(time.Now())
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
		if l.lastLine && l.opts.LastLine > 0 {
			deadline = earlier(deadline, l.lastDL)
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
			l.woken()
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
	l.finalize()
	return nil
}

// flushDirs writes what the log directories can take now. It reports
// whether any directory (or stdout) still has work pending, how many
// bytes wait to be written, and when the earliest directory wants to
// be serviced again (zero: no deadline).
func (l *Logger) flushDirs(now time.Time) (pending bool, pendingBytes int, deadline time.Time) {
	pendingBytes = len(l.outBuf)
	for _, d := range l.dirs {
		if d.Ready(now) {
			d.Flush()
		}
		if d.Pending() {
			pending = true
			pendingBytes += d.PendingBytes()
			deadline = earlier(deadline, d.Deadline())
		}
	}
	return pending, pendingBytes, deadline
}

// finalize marks every directory's current as cleanly closed, retrying
// after cooldowns until all of them are.
func (l *Logger) finalize() {
	for {
		var deadline time.Time
		done := true
		for _, d := range l.dirs {
			if d.fd < 0 {
				continue
			}
			if time.Now().Before(d.deadline) || !d.Finalize() {
				done = false
				deadline = earlier(deadline, d.deadline)
			}
		}
		if done {
			return
		}
		time.Sleep(time.Until(deadline))
	}
}

// earlier returns the earlier of two deadlines, a zero one meaning none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
