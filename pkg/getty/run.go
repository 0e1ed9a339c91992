package getty

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Config is what Run needs. Zero values take the defaults shown.
type Config struct {
	TTY          string // device path; "" = the active console
	Login        string // program to exec on the terminal; "" = getty's own shell (Shell)
	Term         string // TERM for the shell; "" = Term(TTY)
	Baud         uint32 // termios speed code; 0 keeps the current speed
	Issue        string // file printed instead of the built-in banner
	PasswordFile string // /etc/svinit/getty-password
	SysRoot      string // /sys
	DevRoot      string // /dev
	FailDelay    time.Duration
	Attempts     int // password attempts before exiting (3)
}

// ErrLoginFailed is returned when every password attempt failed.
var ErrLoginFailed = errors.New("login failed")

// Run sets up the terminal as the controlling terminal of a new session
// and execs the login program on it. It only returns on failure.
func Run(c Config) error {
	if c.PasswordFile == "" {
		c.PasswordFile = "/etc/svinit/getty-password"
	}
	if c.SysRoot == "" {
		c.SysRoot = "/sys"
	}
	if c.DevRoot == "" {
		c.DevRoot = "/dev"
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	tty := c.TTY
	if tty == "" {
		var err error
		if tty, err = ConsoleTTY(c.SysRoot, c.DevRoot); err != nil {
			return fmt.Errorf("find the console: %w", err)
		}
	}
	login := ""
	if c.Login != "" {
		var err error
		if login, err = exec.LookPath(c.Login); err != nil {
			return fmt.Errorf("login program: %w", err)
		}
	}

	// A new session, so the terminal can become ours. Under supervision
	// run already started one: then we are its leader and that is fine.
	if _, err := unix.Setsid(); err != nil {
		if sid, _ := unix.Getsid(0); sid != unix.Getpid() {
			return fmt.Errorf("setsid: %w", err)
		}
	}
	// O_NONBLOCK so a serial line without carrier does not hang the open;
	// CLOCAL is set below and blocking mode restored.
	fd, err := unix.Open(tty, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", tty, err)
	}
	force := 0
	if unix.Geteuid() == 0 {
		force = 1 // take the terminal even from another session
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, force); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: make it the controlling terminal: %w", tty, err)
	}
	if err := SetTerminal(fd, c.Baud); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: %w", tty, err)
	}
	if err := SetSize(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: %w", tty, err)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return fmt.Errorf("%s: %w", tty, err)
	}
	if pg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil && pg != unix.Getpgrp() {
		// Only possible if someone else was in the foreground; we lead
		// the session, so make our group the foreground one.
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPGRP, unix.Getpgrp()); err != nil {
			unix.Close(fd)
			return fmt.Errorf("%s: set foreground process group: %w", tty, err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("%s: dup to fd %d: %w", tty, i, err)
		}
	}
	unix.Close(fd)
	term := os.NewFile(1, tty)

	hostname, release := Uname()
	banner := Banner(hostname, release, tty)
	if c.Issue != "" {
		if b, err := os.ReadFile(c.Issue); err == nil {
			banner = string(b)
		}
	}
	io.WriteString(term, banner)

	h, ask, err := ReadPasswordFile(c.PasswordFile)
	if err != nil {
		// Fail closed: a broken password file must not open a shell.
		// (The caller reports err on stderr, which is the terminal now.)
		return err
	}
	if ask {
		in := bufio.NewReader(os.NewFile(0, tty))
		ok := false
		for i := 0; i < c.Attempts && !ok; i++ {
			pw, err := AskPassword(0, in, term)
			if err != nil {
				io.WriteString(term, "\n")
				return fmt.Errorf("%s: read password: %w", tty, err)
			}
			if ok = h.Check(pw); !ok {
				time.Sleep(c.FailDelay)
				io.WriteString(term, "Login incorrect\n")
			}
		}
		if !ok {
			return ErrLoginFailed
		}
	}

	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TERM=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	termName := c.Term
	if termName == "" {
		termName = Term(tty)
	}
	env = append(env, "TERM="+termName, "HOME=/root")
	if os.Chdir("/root") != nil {
		os.Chdir("/")
	}
	if login == "" {
		status, err := Shell(ShellConfig{
			Terminal: 0, Stdin: os.NewFile(0, tty), Stdout: term, Stderr: os.NewFile(2, tty),
			Env: env,
		})
		if err != nil {
			return err
		}
		return ShellExit(status)
	}
	return fmt.Errorf("exec %s: %w", login, unix.Exec(login, []string{login}, env))
}

// ShellExit is how Run returns when getty's own shell ended: its exit
// status (0 included), for getty to exit with.
type ShellExit int

func (s ShellExit) Error() string { return fmt.Sprintf("shell exited %d", int(s)) }
