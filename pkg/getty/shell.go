package getty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

// The console shell is getty's own: a POSIX shell interpreter
// (mvdan.cc/sh, the one u-root's gosh runs) behind a line reader that
// never sends the terminal a query and never reads past the end of the
// line it returns, so that nothing typed is swallowed or lost and the
// shell cannot wait for an answer that never comes. See docs/getty.md.

// Prompts of the console shell.
const (
	PromptMain = "# "   // waiting for a command
	PromptMore = "> "   // the command so far is incomplete (an open quote, a loop)
	historyMax = 500    // lines kept by the editor
	termDumb   = "dumb" // TERM of a terminal that cannot move its cursor
)

// Editor reports whether the console shell uses its line editor (cursor
// keys, history) on a terminal with this TERM, or the plain line reader:
// the kernel's canonical mode (erase, kill and word erase by the line
// discipline), which works on any line, even one that is not a
// terminal at the other end. The editor needs a terminal (isTTY) whose
// TERM says it can move the cursor: not empty, not "dumb".
func Editor(term string, isTTY bool) bool {
	t := strings.ToLower(strings.TrimSpace(term))
	return isTTY && t != "" && t != termDumb && t != "unknown"
}

// errInterrupted is a line abandoned with ^C.
var errInterrupted = errors.New("interrupted")

// lineReader reads the shell's command lines from the terminal.
type lineReader interface {
	// ReadLine prints prompt and returns one line without its end. It
	// returns io.EOF at the end of input (^D on an empty line) and
	// errInterrupted when the line was abandoned with ^C.
	ReadLine(prompt string) (string, error)
	// Add records a command in the history.
	Add(line string)
	// Close leaves the terminal in the mode commands run in.
	Close()
}

// plainReader reads lines in canonical mode, one byte per read(2):
// it never takes from the terminal (or pipe) a byte past the end of the
// line, so what follows stays for the command that runs next. While it
// reads, ^C is not a signal but a character (ISIG off): what was typed
// before it on the line is dropped. So the only SIGINTs the shell gets
// come while its commands run.
type plainReader struct {
	fd        int
	out       io.Writer
	read, cmd *unix.Termios // nil: not a terminal
	quiet     func()        // called once ^C is no signal (see interrupter.quiet)
}

func newPlainReader(fd int, out io.Writer) *plainReader {
	r := &plainReader{fd: fd, out: out}
	if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		read := *t
		read.Lflag &^= unix.ISIG
		r.read, r.cmd = &read, t
	}
	return r
}

func (r *plainReader) ReadLine(prompt string) (string, error) {
	if r.read != nil {
		if err := unix.IoctlSetTermios(r.fd, unix.TCSETS, r.read); err != nil {
			return "", err
		}
		defer unix.IoctlSetTermios(r.fd, unix.TCSETS, r.cmd)
	}
	if r.quiet != nil {
		r.quiet()
	}
	io.WriteString(r.out, prompt)
	line, err := readLine(r.fd)
	if err != nil {
		return "", err
	}
	if i := strings.LastIndexByte(line, keyCtrlC); i >= 0 {
		line = line[i+1:]
		if strings.TrimSpace(line) == "" {
			return "", errInterrupted
		}
	}
	return line, nil
}

// readLine reads up to and including a newline, one byte at a time,
// and returns the line without it (nor a carriage return before it).
func readLine(fd int) (string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := unix.Read(fd, b[:])
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == 0 {
			if len(line) == 0 {
				return "", io.EOF
			}
			return string(line), nil
		}
		if b[0] == '\n' {
			return strings.TrimSuffix(string(line), "\r"), nil
		}
		line = append(line, b[0])
	}
}

func (r *plainReader) Add(string) {}

func (r *plainReader) Close() {
	if r.cmd != nil {
		unix.IoctlSetTermios(r.fd, unix.TCSETS, r.cmd)
	}
}

// ShellConfig is what the console shell needs.
type ShellConfig struct {
	// Terminal is the descriptor the shell reads its commands from.
	Terminal int
	Stdin    *os.File
	Stdout   *os.File
	Stderr   *os.File
	Env      []string // the shell's environment (TERM chooses the reader)
	Dir      string   // working directory ("" = the current one)
}

// Shell runs the console shell until exit or the end of input and
// returns its exit status.
func Shell(c ShellConfig) (int, error) {
	// The shell outlives its commands' keyboard signals (the kernel
	// sends them to the whole foreground group, the shell included):
	// caught, so that its children still get the default action.
	// A SIGINT also stops what the shell itself runs (a loop, a
	// built-in between two commands); fenceSignal is the shell's own
	// (see interrupter).
	var intr interrupter
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGQUIT, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, fenceSignal)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			switch sig {
			case unix.SIGINT:
				intr.interrupt()
			case fenceSignal:
				intr.fenced()
			}
		}
	}()

	term := ""
	for _, kv := range c.Env {
		if v, ok := strings.CutPrefix(kv, "TERM="); ok {
			term = v
		}
	}
	_, ttyErr := unix.IoctlGetTermios(c.Terminal, unix.TCGETS)
	var r lineReader
	if Editor(term, ttyErr == nil) {
		er, err := newLineEditor(c.Terminal, c.Stdout)
		if err != nil {
			fmt.Fprintf(c.Stderr, "getty: line editor: %v; reading plain lines\n", err)
			pr := newPlainReader(c.Terminal, c.Stdout)
			pr.quiet = intr.quiet
			r = pr
		} else {
			er.quiet = intr.quiet
			r = er
		}
	} else {
		pr := newPlainReader(c.Terminal, c.Stdout)
		pr.quiet = intr.quiet
		r = pr
	}
	defer r.Close()

	opts := []interp.RunnerOption{
		interp.StdIO(c.Stdin, c.Stdout, c.Stderr),
		interp.Interactive(true),
		interp.Env(expand.ListEnviron(c.Env...)),
	}
	if c.Dir != "" {
		opts = append(opts, interp.Dir(c.Dir))
	}
	runner, err := interp.New(opts...)
	if err != nil {
		return 1, fmt.Errorf("shell interpreter: %w", err)
	}
	// After a ^C, the processes it kills are gone before the prompt.
	settled := func() { settle("/proc", unix.Getpgrp(), unix.Getpid(), settleWait) }
	return repl(context.Background(), r, runner, c.Stderr, &intr, settled), nil
}

// fenceSignal is the signal the shell sends itself to know that every
// SIGINT sent to it before has been handled (interrupter.quiet). Any
// signal numbered above SIGINT would do: one nobody else sends.
const fenceSignal = unix.SIGUSR2

// fenceWait bounds the wait for the fence, which only a broken signal
// delivery could make longer than a few milliseconds: the shell then
// reads its line all the same.
const fenceWait = 5 * time.Second

// interrupter cancels the command line running, if any, on ^C.
//
// The ^C's SIGINT reaches the shell late: the kernel sends it to the
// whole foreground group at once, and the command it kills may be
// reaped, its line ended and the next line read and started before the
// runtime hands the shell its own copy (a few milliseconds under load).
// That copy would then stop the next line. So before each prompt, once
// the reader has turned keyboard signals off (ISIG clear: no new ^C
// can send one), quiet makes sure that every SIGINT already sent has
// been handled, with nothing to cancel: the shell sends itself
// fenceSignal and waits until it comes. The runtime hands over pending
// signals lowest number first and the one goroutine below takes them
// in order from one channel, so a SIGINT sent before the fence comes
// before it. (Only a thread held up inside the signal handler itself,
// between the kernel's delivery and the runtime's queue, for as long as
// the fence's whole round trip, could still let one through later.)
type interrupter struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	fence  chan struct{} // closed when fenceSignal comes
}

func (i *interrupter) set(cancel context.CancelFunc) {
	i.mu.Lock()
	i.cancel = cancel
	i.mu.Unlock()
}

func (i *interrupter) interrupt() {
	i.mu.Lock()
	if i.cancel != nil {
		i.cancel()
	}
	i.mu.Unlock()
}

// fenced is the arrival of fenceSignal.
func (i *interrupter) fenced() {
	i.mu.Lock()
	if i.fence != nil {
		close(i.fence)
		i.fence = nil
	}
	i.mu.Unlock()
}

// quiet returns once every SIGINT sent to the shell so far has been
// handled (and dropped: no command line runs). The caller has turned
// the terminal's keyboard signals off.
func (i *interrupter) quiet() {
	fence := make(chan struct{})
	i.mu.Lock()
	i.cancel, i.fence = nil, fence
	i.mu.Unlock()
	if unix.Kill(unix.Getpid(), fenceSignal) == nil {
		t := time.NewTimer(fenceWait)
		select {
		case <-fence:
		case <-t.C:
		}
		t.Stop()
	}
	i.mu.Lock()
	i.fence = nil
	i.mu.Unlock()
}

// repl reads commands from r and runs them until exit or the end of
// input; it returns the exit status. settled is called when a command
// line stopped on ^C, before the next prompt.
func repl(ctx context.Context, r lineReader, runner *interp.Runner, stderr io.Writer, intr *interrupter, settled func()) int {
	parser := syntax.NewParser()
	var src strings.Builder
	status := 0
	for {
		prompt := PromptMain
		if src.Len() > 0 {
			prompt = PromptMore
		}
		line, err := r.ReadLine(prompt)
		if errors.Is(err, errInterrupted) {
			src.Reset()
			continue
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintf(stderr, "getty: read a command: %v\n", err)
			}
			io.WriteString(stderr, "\n")
			return status
		}
		src.WriteString(line)
		src.WriteByte('\n')
		f, err := parser.Parse(strings.NewReader(src.String()), "")
		if err != nil {
			if syntax.IsIncomplete(err) {
				continue
			}
			fmt.Fprintf(stderr, "%v\n", err)
			src.Reset()
			continue
		}
		if text := strings.TrimSpace(src.String()); text != "" {
			r.Add(strings.TrimSuffix(src.String(), "\n"))
		}
		src.Reset()
		lineCtx, cancel := context.WithCancel(ctx)
		intr.set(cancel)
		for _, st := range f.Stmts {
			err := runner.Run(lineCtx, st)
			status = 0
			if s, ok := interp.IsExitStatus(err); ok {
				status = int(s)
			} else if err != nil && lineCtx.Err() == nil {
				fmt.Fprintf(stderr, "%v\n", err)
				status = 1
			}
			if runner.Exited() {
				intr.set(nil)
				cancel()
				return status
			}
			if lineCtx.Err() != nil || status == 128+int(unix.SIGINT) {
				// Interrupted (^C): the rest of the line does not
				// run, what the ^C kills is gone before the prompt,
				// and the prompt starts a line of its own.
				status = 128 + int(unix.SIGINT)
				settled()
				io.WriteString(stderr, "\n")
				break
			}
		}
		intr.set(nil)
		cancel()
	}
}
