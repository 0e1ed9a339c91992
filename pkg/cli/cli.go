// Package cli holds the small conventions every svinit command shares:
// a run function taking its arguments and standard streams, s6's exit
// codes, and errors of the form "prog: what: why".
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Exit codes, as s6's tools use them.
const (
	ExitOK            = 0
	ExitFalse         = 1   // e.g. svok: not supervised
	ExitTimeout       = 99  // svwait, svc -w: timed out
	ExitUsage         = 100 // bad command line
	ExitNotSupervised = 102 // supervisor not running
	ExitSystem        = 111 // system call failed
)

// RunFunc is the signature of every command's run function.
type RunFunc func(args []string, stdin io.Reader, stdout, stderr io.Writer) error

// Error carries an exit code. A nil Err with a non-zero Code exits
// silently with that code.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Exitf returns an *Error with the given code and formatted message.
func Exitf(code int, format string, a ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, a...)}
}

// Usagef returns a usage error (exit 100).
func Usagef(format string, a ...any) error { return Exitf(ExitUsage, format, a...) }

// Silent returns an error that exits with code and prints nothing.
func Silent(code int) error { return &Error{Code: code} }

// Code returns the exit code for err: 0 for nil, the code of an *Error,
// 111 for anything else.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitSystem
}

// Report writes "prog: err" to w unless err is nil or silent, and
// returns the exit code.
func Report(w io.Writer, prog string, err error) int {
	code := Code(err)
	var e *Error
	if err != nil && !(errors.As(err, &e) && e.Err == nil) {
		fmt.Fprintf(w, "%s: %v\n", prog, err)
	}
	return code
}

// Main runs run with the process's arguments and streams and exits with
// the resulting code. Commands call it from main and nowhere else.
func Main(prog string, run RunFunc) {
	os.Exit(Report(os.Stderr, prog, run(os.Args, os.Stdin, os.Stdout, os.Stderr)))
}

// Prefixed returns a writer that puts "prog: " before what each Write
// writes to w: for a library that logs one line per Write, so that its
// lines name the command, as the command's own messages do.
func Prefixed(w io.Writer, prog string) io.Writer {
	return prefixed{w: w, prefix: []byte(prog + ": ")}
}

type prefixed struct {
	w      io.Writer
	prefix []byte
}

func (p prefixed) Write(b []byte) (int, error) {
	line := make([]byte, 0, len(p.prefix)+len(b))
	if _, err := p.w.Write(append(append(line, p.prefix...), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// NotificationFd parses the argument of a command's -d option: the
// descriptor on which it announces readiness, as a service's
// notification-fd tells s6-supervise (see Ready). It must be 3 or more
// (0, 1 and 2 are the standard streams) and open. The command makes the
// error a usage error.
func NotificationFd(arg string) (int, error) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 3 {
		return -1, fmt.Errorf("-d %s: want a descriptor number of 3 or more", arg)
	}
	if _, err := unix.FcntlInt(uintptr(n), unix.F_GETFD, 0); err != nil {
		return -1, fmt.Errorf("-d %d: descriptor not open, an invalid notification fd: %v", n, err)
	}
	return n, nil
}

// Ready announces readiness on fd, as s6 reads it: a newline, then the
// descriptor is closed. fd < 0 (no -d) does nothing.
func Ready(fd int) {
	if fd < 0 {
		return
	}
	unix.Write(fd, []byte{'\n'})
	unix.Close(fd)
}
