package execline

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/cli"
)

func usage(u string) error { return cli.Usagef("usage: %s", u) }

// fdArg parses a file descriptor number.
func fdArg(s string) (int, bool) {
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

const redirfdUsage = "redirfd -[ r | w | u | a | c | x ] [ -n ] [ -b ] fd file prog..."

func redirfd(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "rwuacxnb")
	if !ok {
		return nil, usage(redirfdUsage)
	}
	var mode byte
	nonblock, block := false, false
	for _, o := range opts {
		switch o.c {
		case 'n':
			nonblock = true
		case 'b':
			block = true
		default:
			mode = o.c
		}
	}
	if mode == 0 || len(rest) < 3 {
		return nil, usage(redirfdUsage)
	}
	target, ok := fdArg(rest[0])
	if !ok {
		return nil, usage(redirfdUsage)
	}
	file := rest[1]
	var flags int
	what := "writing"
	switch mode {
	case 'r':
		flags, what = unix.O_RDONLY, "reading"
	case 'w':
		flags = unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
	case 'u':
		flags, what = unix.O_RDWR, "reading and writing"
	case 'a':
		flags, what = unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND, "appending"
	case 'c':
		flags = unix.O_WRONLY
	case 'x':
		flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL
	}
	var fd int
	var err error
	if nonblock && flags&unix.O_ACCMODE == unix.O_WRONLY {
		// A FIFO without a reader: open it anyway (the -wnb trick).
		fd, err = st.Sys.OpenFIFOWriter(file, (flags&^unix.O_WRONLY)|unix.O_CLOEXEC, false)
	} else {
		if nonblock {
			flags |= unix.O_NONBLOCK
		}
		fd, err = st.Sys.Open(file, flags|unix.O_CLOEXEC, 0o666)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: unable to open for %s: %w", file, what, err)
	}
	if block {
		if err := st.Sys.SetNonblock(fd, false); err != nil {
			st.Sys.Close(fd)
			return nil, fmt.Errorf("%s: unable to set blocking mode: %w", file, err)
		}
	}
	if err := st.Sys.Dup2(fd, target); err != nil {
		st.Sys.Close(fd)
		return nil, fmt.Errorf("%s: unable to move to fd %d: %w", file, target, err)
	}
	if fd != target {
		st.Sys.Close(fd)
	}
	return rest[2:], nil
}

const fdmoveUsage = "fdmove [ -c ] to from prog..."

func fdmove(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "c")
	if !ok || len(rest) < 3 {
		return nil, usage(fdmoveUsage)
	}
	to, ok1 := fdArg(rest[0])
	from, ok2 := fdArg(rest[1])
	if !ok1 || !ok2 {
		return nil, usage(fdmoveUsage)
	}
	copyFd := len(opts) > 0
	if to != from {
		if err := st.Sys.Dup2(from, to); err != nil {
			return nil, fmt.Errorf("unable to move fd %d to fd %d: %w", from, to, err)
		}
		if !copyFd {
			st.Sys.Close(from)
		}
	}
	return rest[2:], nil
}

const fdcloseUsage = "fdclose fd prog..."

func fdclose(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 2 {
		return nil, usage(fdcloseUsage)
	}
	fd, ok := fdArg(rest[0])
	if !ok {
		return nil, usage(fdcloseUsage)
	}
	// closing a closed fd is not an error
	if err := st.Sys.Close(fd); err != nil && !errors.Is(err, syscall.EBADF) {
		return nil, fmt.Errorf("unable to close fd %d: %w", fd, err)
	}
	return rest[1:], nil
}

const fdswapUsage = "fdswap fd1 fd2 prog..."

func fdswap(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 3 {
		return nil, usage(fdswapUsage)
	}
	a, ok1 := fdArg(rest[0])
	b, ok2 := fdArg(rest[1])
	if !ok1 || !ok2 {
		return nil, usage(fdswapUsage)
	}
	if a != b {
		t, err := st.Sys.Dup(a)
		if err == nil {
			err = st.Sys.Dup2(b, a)
			if err == nil {
				err = st.Sys.Dup2(t, b)
			}
			st.Sys.Close(t)
		}
		if err != nil {
			return nil, fmt.Errorf("unable to swap fds %d and %d: %w", a, b, err)
		}
	}
	return rest[2:], nil
}

func validName(s string) bool { return s != "" && !strings.ContainsRune(s, '=') }

const exportUsage = "export variable value prog..."

func export(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 3 {
		return nil, usage(exportUsage)
	}
	if !validName(rest[0]) {
		return nil, cli.Usagef("invalid variable name: %q", rest[0])
	}
	st.Env.Set(rest[0], rest[1])
	return rest[2:], nil
}

const unexportUsage = "unexport variable prog..."

func unexport(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 2 {
		return nil, usage(unexportUsage)
	}
	if !validName(rest[0]) {
		return nil, cli.Usagef("invalid variable name: %q", rest[0])
	}
	st.Env.Unset(rest[0])
	return rest[1:], nil
}

const cdUsage = "cd path prog..."

func cd(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 2 {
		return nil, usage(cdUsage)
	}
	if err := st.Sys.Chdir(rest[0]); err != nil {
		return nil, fmt.Errorf("%s: unable to chdir: %w", rest[0], err)
	}
	return rest[1:], nil
}

const umaskUsage = "umask value prog..."

func umask(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok || len(rest) < 2 {
		return nil, usage(umaskUsage)
	}
	v, err := strconv.ParseUint(rest[0], 8, 32)
	if err != nil || rest[0][0] == '+' {
		return nil, usage(umaskUsage)
	}
	st.Sys.Umask(int(v & 0o777))
	return rest[1:], nil
}

const emptyenvUsage = "emptyenv [ -p | -c | -o | -P ] prog..."

func emptyenv(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "pcoP")
	if !ok || len(rest) < 1 {
		return nil, usage(emptyenvUsage)
	}
	var p, c, o, P bool
	for _, x := range opts {
		switch x.c {
		case 'p':
			p = true
		case 'c':
			c = true
		case 'o':
			o = true
		case 'P':
			P = true
		}
	}
	switch {
	case c:
		st.Env.CleanExecline()
	case o || P:
		if o {
			st.Env.PopElgetopt()
		}
		if P {
			st.Env.PopPositionals()
		}
	default:
		path, has := st.Env.Get("PATH")
		st.Env = Env{}
		if p && has {
			st.Env.Set("PATH", path)
		}
	}
	return rest, nil
}

const execUsage = "exec [ -c ] [ -l ] [ -a argv0 ] prog..."

func execLoader(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "cla:")
	if !ok || len(rest) < 1 {
		return nil, usage(execUsage)
	}
	argv0, login := "", false
	for _, o := range opts {
		switch o.c {
		case 'c':
			st.Env = Env{}
		case 'l':
			login = true
		case 'a':
			argv0 = o.arg
		}
	}
	if argv0 == "" && login {
		argv0 = rest[0]
	}
	if login {
		argv0 = "-" + argv0
	}
	rest = append([]string(nil), rest...)
	if argv0 != "" {
		st.argv0 = argv0
	}
	return rest, nil
}

// strictness returns EXECLINE_STRICT as execline reads it.
func (st *State) strictness() int {
	v, _ := st.Env.Get("EXECLINE_STRICT")
	n, _ := strconv.Atoi(v)
	return n
}

// block splits an encoded block off the front of args.
func (st *State) block(prog string, args []string) (blk, rest []string, err error) {
	strict := st.strictness()
	for i, w := range args {
		if w == "" {
			return blk, args[i+1:], nil
		}
		if w[0] == ' ' {
			blk = append(blk, w[1:])
			continue
		}
		if strict >= 2 {
			return nil, nil, cli.Usagef("unquoted word in block: %q", w)
		}
		if strict == 1 {
			st.warnf(prog, "unquoted word in block: %q", w)
		}
		blk = append(blk, w)
	}
	return nil, nil, cli.Usagef("unterminated block")
}

func spawnErrCode(err error) int {
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENOTDIR) {
		return 127
	}
	return 126
}

func foreground(st *State, args []string) ([]string, error) {
	_, rest, _, ok := getopt(args, "")
	if !ok {
		return nil, usage("foreground { prog... } remainder...")
	}
	blk, rest, err := st.block("foreground", rest)
	if err != nil {
		return nil, err
	}
	if len(blk) > 0 {
		code := 0
		pid, err := st.spawn(blk)
		if err != nil {
			st.warnf("foreground", "%s: unable to spawn: %v", blk[0], err)
			code = spawnErrCode(err)
		} else {
			ws, err := st.Sys.Wait(pid)
			if err != nil {
				return nil, fmt.Errorf("wait for %s: %w", blk[0], err)
			}
			code = ws.ExitStatus()
			if ws.Signaled() {
				code = 256 + int(ws.Signal())
			}
		}
		st.Env.Set("?", itoa(code))
	}
	return rest, nil
}

const backgroundUsage = "background [ -d ] { prog... } remainder..."

func background(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "d")
	if !ok {
		return nil, usage(backgroundUsage)
	}
	blk, rest, err := st.block("background", rest)
	if err != nil {
		return nil, err
	}
	if len(blk) == 0 {
		return rest, nil
	}
	var pid int
	if len(opts) > 0 {
		pid, err = st.spawnDetached(blk)
	} else {
		pid, err = st.spawn(blk)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: unable to spawn: %w", blk[0], err)
	}
	st.Env.Set("!", itoa(pid))
	return rest, nil
}

// spawnDetached starts blk as a grandchild through an intermediate
// process that exits at once, so blk is not a child of the rest of the
// chain; the intermediate reports the grandchild's pid on a pipe.
func (st *State) spawnDetached(blk []string) (int, error) {
	path, a0, err := st.self()
	if err != nil {
		return 0, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	defer unix.Close(p[0])
	w, err := unix.FcntlInt(uintptr(p[1]), unix.F_DUPFD, 3) // inheritable copy
	unix.Close(p[1])
	if err != nil {
		return 0, err
	}
	pid, err := st.Sys.Spawn(path, append([]string{a0, detachFlag, itoa(w)}, blk...), st.Env)
	unix.Close(w)
	if err != nil {
		return 0, err
	}
	ws, err := st.Sys.Wait(pid)
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 32)
	n, _ := unix.Read(p[0], buf)
	if !ws.Exited() || ws.ExitStatus() != 0 || n <= 0 {
		return 0, fmt.Errorf("intermediate process failed (%s)", waitString(ws))
	}
	return strconv.Atoi(string(buf[:n]))
}

// detach is the intermediate process of background -d.
func (st *State) detach(args []string) error {
	if len(args) < 2 {
		return usage("background -d { prog... }")
	}
	w, ok := fdArg(args[0])
	if !ok {
		return usage("background -d { prog... }")
	}
	unix.CloseOnExec(w)
	pid, err := st.spawn(args[1:])
	if err != nil {
		return fmt.Errorf("%s: unable to spawn: %w", args[1], err)
	}
	_, err = unix.Write(w, []byte(itoa(pid)))
	return err
}

func waitString(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by signal " + itoa(int(ws.Signal()))
	}
	return "exit code " + itoa(ws.ExitStatus())
}

const ifUsage = "if [ -n ] [ -X ] [ -t | -x exitcode ] { prog... } remainder..."

func ifLoader(st *State, args []string) ([]string, error) {
	opts, rest, _, ok := getopt(args, "nXtx:")
	if !ok {
		return nil, usage(ifUsage)
	}
	neg, quiet := false, false
	fail := -1 // -1: the child's code
	for _, o := range opts {
		switch o.c {
		case 'n':
			neg = true
		case 'X':
			quiet = true
		case 't':
			fail = 0
		case 'x':
			n, err := strconv.Atoi(o.arg)
			if err != nil || n < 0 || n > 255 {
				return nil, usage(ifUsage)
			}
			fail = n
		}
	}
	blk, rest, err := st.block("if", rest)
	if err != nil {
		return nil, err
	}
	if len(blk) == 0 {
		return nil, cli.Usagef("empty block")
	}
	pid, err := st.spawn(blk)
	if err != nil {
		return nil, fmt.Errorf("%s: unable to spawn: %w", blk[0], err)
	}
	ws, err := st.Sys.Wait(pid)
	if err != nil {
		return nil, fmt.Errorf("wait for %s: %w", blk[0], err)
	}
	if ws.Signaled() {
		code := 128 + int(ws.Signal())
		if quiet {
			return nil, cli.Silent(code)
		}
		return nil, cli.Exitf(code, "%s: child crashed with signal %d", blk[0], int(ws.Signal()))
	}
	code := ws.ExitStatus()
	if (code == 0) != neg {
		return rest, nil
	}
	switch {
	case fail >= 0:
		code = fail
	case neg:
		code = 1
	}
	return nil, cli.Silent(code)
}
