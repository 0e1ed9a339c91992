package execline

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/svinit/svinit/pkg/cli"
)

// ChainFlag, given as the first argument to execlineb or to any of the
// standalone chain-loader commands, makes it run the rest of its
// arguments as an already parsed execline command line (blocks encoded,
// no substitution, no positional parameters). Forking loaders use it to
// run a block that starts with a built-in. It is internal: scripts never
// need it.
const ChainFlag = "--execline-chain"

// detachFlag makes the program spawn the rest of its arguments, write
// the child's pid to the fd given as next argument, and exit: the
// intermediate process of background -d.
const detachFlag = "--execline-detach"

// DefaultPath is the search path used when PATH is unset, as execline does.
const DefaultPath = "/usr/bin:/bin"

// State is the state an execline chain carries from one loader to the
// next. File descriptors, working directory, umask and credentials live
// in the process (through Sys); the environment lives here and is given
// to the final execve.
type State struct {
	Env    Env
	Sys    Sys
	Stderr io.Writer // warnings
	// Self and SelfArgv0 start a new process running a chain (see
	// ChainFlag): Self is the executable, SelfArgv0 its argv[0].
	// Empty Self means: os.Executable() with os.Args[0], and if that
	// fails "execlineb" looked up in PATH.
	Self, SelfArgv0 string
	// lookup is the environment whose PATH finds the next program: the
	// environment of the previous link of the chain, as in execline
	// where each loader is a process searching its own PATH.
	lookup Env
	// Prog is the name this process reports errors under; errors of
	// other built-ins get their name as a prefix.
	Prog string
	// argv0, when set by exec -a or -l, replaces the final program's
	// argv[0] (the program is still looked up under its own name).
	argv0 string
	// script and pos locate the words of the command line Run is given
	// (see SetPositions); origLen is that command line's length.
	script  string
	pos     []Pos
	origLen int
}

// SetPositions tells Run where the words of the command line it will be
// given come from (ParsePos): errors of a built-in, or a failed exec,
// then name the script, the line and the word, as syntax errors do.
func (st *State) SetPositions(script string, pos []Pos) {
	st.script, st.pos = script, pos
}

// where returns "script: line L, word W: " for the first word of argv,
// a suffix of the command line Run was given, or "".
func (st *State) where(argv []string) string {
	i := st.origLen - len(argv)
	if st.pos == nil || st.origLen != len(st.pos) || i < 0 || i >= len(st.pos) {
		return ""
	}
	return fmt.Sprintf("%s: line %d, word %d: ", st.script, st.pos[i].Line, st.pos[i].Word)
}

// NewState returns the state of the running process.
func NewState(prog string, stderr io.Writer) *State {
	return &State{Env: Env(os.Environ()), Sys: OS{}, Stderr: stderr, Prog: prog}
}

// loader is a built-in chain-loader: it acts on st and returns the
// command line to run next.
type loader func(st *State, args []string) ([]string, error)

// builtin returns the loader for name, if name is a built-in. Names
// containing a slash are never built-ins.
func builtin(name string) loader {
	switch name {
	case "redirfd":
		return redirfd
	case "fdmove":
		return fdmove
	case "fdclose":
		return fdclose
	case "fdswap":
		return fdswap
	case "export":
		return export
	case "unexport":
		return unexport
	case "cd", "execline-cd":
		return cd
	case "umask", "execline-umask":
		return umask
	case "envfile":
		return envfile
	case "envdir", "s6-envdir":
		return envdir
	case "setuidgid", "s6-setuidgid":
		return setuidgid
	case "emptyenv":
		return emptyenv
	case "exec":
		return execLoader
	case "foreground":
		return foreground
	case "background":
		return background
	case "if":
		return ifLoader
	}
	return nil
}

// IsBuiltin reports whether name runs inside execlineb instead of being
// looked up in PATH.
func IsBuiltin(name string) bool { return builtin(name) != nil }

// Run runs argv as an execline chain: while argv starts with a built-in,
// the built-in runs in this process; then the remaining program is
// executed with execve. Run returns only on failure, or with nil when the
// chain ends with nothing left to execute (exit 0).
func (st *State) Run(argv []string) error {
	if st.lookup == nil {
		st.lookup = st.Env.Clone()
	}
	if st.origLen == 0 {
		st.origLen = len(argv)
	}
	for len(argv) > 0 {
		l := builtin(argv[0])
		if l == nil {
			break
		}
		before := st.Env.Clone()
		st.argv0 = ""
		rest, err := l(st, argv)
		if err != nil {
			return st.wrap(argv, err)
		}
		st.lookup = before
		argv = rest
	}
	if len(argv) == 0 {
		return nil
	}
	if err := st.exec(argv); err != nil {
		if w := st.where(argv); w != "" {
			return &cli.Error{Code: cli.Code(err), Err: fmt.Errorf("%s%w", w, err)}
		}
		return err
	}
	return nil
}

// wrap prefixes a built-in's error with where it is in the script and
// its name, keeping the exit code; silent errors stay silent.
func (st *State) wrap(argv []string, err error) error {
	name := argv[0]
	var ce *cli.Error
	if errors.As(err, &ce) && ce.Err == nil || name == st.Prog {
		return err
	}
	return &cli.Error{Code: cli.Code(err), Err: fmt.Errorf("%s%s: %w", st.where(argv), name, err)}
}

// exitErr is an exec failure with execline's codes: 127 not found, 126
// found but not executable.
func exitErr(argv0 string, err error) error {
	code := 126
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
		code = 127
	}
	return &cli.Error{Code: code, Err: fmt.Errorf("%s: unable to exec: %w", argv0, err)}
}

func pathOf(env Env) string {
	if p, ok := env.Get("PATH"); ok {
		return p
	}
	return DefaultPath
}

func (st *State) exec(argv []string) error {
	name := argv[0]
	if st.argv0 != "" {
		argv = append([]string{st.argv0}, argv[1:]...)
	}
	if strings.ContainsRune(name, '/') {
		return exitErr(name, st.Sys.Exec(name, argv, st.Env))
	}
	var saved error
	for _, dir := range strings.Split(pathOf(st.lookup), ":") {
		if dir == "" {
			dir = "."
		}
		err := st.Sys.Exec(dir+"/"+name, argv, st.Env)
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
		case errors.Is(err, syscall.EACCES):
			saved = err
		default:
			return exitErr(name, err)
		}
	}
	if saved == nil {
		saved = syscall.ENOENT
	}
	return exitErr(name, saved)
}

// lookPath finds name in the PATH of env the way a spawn needs it.
func (st *State) lookPath(name string, env Env) (string, error) {
	if strings.ContainsRune(name, '/') {
		return name, st.Sys.Access(name)
	}
	var saved error = syscall.ENOENT
	for _, dir := range strings.Split(pathOf(env), ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		err := st.Sys.Access(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ENOTDIR) {
			saved = err
		}
	}
	return "", saved
}

// self returns how to start a new process running a chain.
func (st *State) self() (path, argv0 string, err error) {
	if st.Self != "" {
		a := st.SelfArgv0
		if a == "" {
			a = st.Self
		}
		return st.Self, a, nil
	}
	if exe, err := os.Executable(); err == nil && len(os.Args) > 0 {
		return exe, os.Args[0], nil
	}
	p, err := st.lookPath("execlineb", st.Env)
	if err != nil {
		return "", "", fmt.Errorf("cannot find execlineb to run a block: %w", err)
	}
	return p, "execlineb", nil
}

// spawn starts argv as a child with the current state. A block whose
// first word is a built-in runs as a chain in a new instance of this
// program (ChainFlag); anything else is looked up in PATH and started
// directly, as execline's forking loaders do.
func (st *State) spawn(argv []string) (int, error) {
	if IsBuiltin(argv[0]) {
		path, a0, err := st.self()
		if err != nil {
			return 0, err
		}
		return st.Sys.Spawn(path, append([]string{a0, ChainFlag}, argv...), st.Env)
	}
	// A forking loader searches its own PATH: the environment the chain
	// has when the loader runs.
	path, err := st.lookPath(argv[0], st.Env)
	if err != nil {
		return 0, err
	}
	return st.Sys.Spawn(path, argv, st.Env)
}

// warnf prints a warning on the state's stderr.
func (st *State) warnf(prog, format string, a ...any) {
	if st.Stderr != nil {
		fmt.Fprintf(st.Stderr, "%s: warning: %s\n", prog, fmt.Sprintf(format, a...))
	}
}

// Standalone is the run function of the standalone chain-loader commands
// (cmds/redirfd, ...): it runs args as the command line of the built-in
// name, then the rest of the chain. It also serves ChainFlag.
func Standalone(name string, args []string, stderr io.Writer) error {
	st := NewState(name, stderr)
	if len(args) > 1 {
		switch args[1] {
		case ChainFlag:
			return st.Run(args[2:])
		case detachFlag:
			return st.detach(args[2:])
		}
	}
	l := builtin(name)
	if l == nil {
		return fmt.Errorf("%s: not an execline built-in", name)
	}
	a := []string{name}
	if len(args) > 1 {
		a = append(a, args[1:]...)
	}
	return st.Run(a)
}
