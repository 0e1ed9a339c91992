package stage1

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
)

// Boot runs stage 1 as process 1 and ends by exec'ing svscan. It never
// returns: whatever fails, it prints why on the console and runs a
// rescue shell, respawned forever.
func Boot() {
	// Until svscan takes over, catch the signals whose Go default is to
	// exit the program: process 1 exiting panics the kernel. Caught
	// signals go back to their default at exec, so svscan starts clean.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
		unix.SIGUSR1, unix.SIGUSR2, unix.SIGPWR, unix.SIGALRM)
	s := &Stage1{Root: "/", Sys: RealSys(), Console: os.Stderr}
	// A bug must not end process 1 either.
	defer func() {
		if r := recover(); r != nil {
			s.Rescue(fmt.Sprintf("stage 1 failed (a bug; please report it): %v", r))
		}
	}()
	s.Run(BaseEnv(os.Environ()))
}

// Run is stage 1's sequence (see docs/boot.md), on s.Root through
// s.Sys: mount the early file systems, read the kernel command line,
// set up the console, the host name and the scan directory, start the
// stage-2 child, put the catch-all logger's FIFO on fds 1 and 2 and exec
// svscan. env is the environment for stage 2 and svscan. Every failure
// ends in the rescue shell; Run returns only if that returns (tests).
func (s *Stage1) Run(env []string) {
	s.Sys.Umask(0o022)
	procErr := s.mountOne(bootfs.EarlyMounts[0])
	s.Cmdline = bootfs.ReadCmdline(s.Root)
	mountErr := s.MountAll()
	if mountErr == nil {
		mountErr = procErr
	}
	if con, err := s.SetupConsole(); err != nil {
		s.Logf("console: %v", err)
	} else {
		s.Console = con
	}
	start := time.Now()
	s.Debugf("stage 1 starting (svinit.debug)")
	for _, w := range s.Cmdline.Warnings {
		s.Logf("kernel command line: %s", w)
	}
	if mountErr != nil {
		s.rescue("early file systems: " + mountErr.Error())
		return
	}
	if s.Cmdline.Rescue {
		s.rescue("svinit.rescue on the kernel command line")
		return
	}
	if err := s.Hostname(); err != nil {
		s.Logf("host name: %v (left unchanged)", err)
	}
	if err := s.CopyScandir(); err != nil {
		s.rescue("scan directory: " + err.Error())
		return
	}
	if !s.HaveLogger() {
		// No catch-all logger: nobody would ever read the FIFO, so stage
		// 2 would wait forever. Keep every output on the console instead.
		s.Logf("%s: no catch-all logger service; output stays on the console", bootfs.LoggerService)
		if err := s.startChild("", env); err != nil {
			s.Logf("stage 2: %v", err)
		}
		s.disableCAD()
		s.Debugf("stage 1 done in %v; handing over to %s %s", time.Since(start).Round(time.Microsecond), bootfs.Svscan, bootfs.Scandir)
		s.execSvscan(env)
		return
	}
	if err := s.MakeFIFO(); err != nil {
		s.rescue(err.Error())
		return
	}
	// Open our own writer before starting the stage-2 child: the trick
	// holds a reader open for an instant, and a child opening meanwhile
	// would not wait for the logger.
	fd, err := s.Sys.OpenFIFOWriter(s.P(bootfs.LoggerFIFO))
	if err != nil {
		s.rescue("catch-all logger FIFO: " + err.Error())
		return
	}
	if err := s.startChild(bootfs.LoggerFIFO, env); err != nil {
		s.Logf("stage 2: %v", err)
	}
	s.Sys.IgnoreSIGPIPE()
	s.disableCAD()
	s.Debugf("stage 1 done in %v; handing over to %s %s", time.Since(start).Round(time.Microsecond), bootfs.Svscan, bootfs.Scandir)
	for _, t := range []int{1, 2} {
		if err := s.Sys.Dup2(fd, t); err != nil {
			unix.Close(fd)
			s.consoleBack()
			s.rescue(fmt.Sprintf("put the catch-all logger FIFO on fd %d: %v", t, err))
			return
		}
	}
	unix.Close(fd)
	// Services inherit svscan's stdin: /dev/null, as s6-linux-init gives
	// s6-svscan, so that no service reads what is typed on the console.
	if null, err := unix.Open(s.P("/dev/null"), unix.O_RDONLY, 0); err == nil {
		if null != 0 {
			s.Sys.Dup2(null, 0)
			unix.Close(null)
		}
	} else {
		s.Debugf("/dev/null for svscan's stdin: %v", err)
	}
	s.execSvscan(env)
}

// disableCAD makes the kernel send SIGINT to process 1 on ctrl-alt-del
// (svscan's .s6-svscan/SIGINT hook: reboot) instead of rebooting at once.
func (s *Stage1) disableCAD() {
	if err := s.Sys.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		s.Debugf("disable ctrl-alt-del: %v", err)
	}
}

func (s *Stage1) startChild(fifoPath string, env []string) error {
	if s.StartChild != nil {
		return s.StartChild(fifoPath, env)
	}
	return s.StartStage2(fifoPath, env)
}

func (s *Stage1) rescue(reason string) {
	if s.RescueShell != nil {
		s.RescueShell(reason)
		return
	}
	s.Rescue(reason)
}

// consoleBack puts the console back on fds 1 and 2 so messages show.
func (s *Stage1) consoleBack() {
	if c, ok := s.Console.(*os.File); ok {
		s.Sys.Dup2(int(c.Fd()), 1)
		s.Sys.Dup2(int(c.Fd()), 2)
	}
}

// execSvscan execs svscan on the scan directory, or falls into the
// rescue shell.
func (s *Stage1) execSvscan(env []string) {
	err := s.Sys.Exec(s.P(bootfs.Svscan), SvscanArgv(s.Cmdline), env)
	// Still here: put the console back on 1 and 2 so the message shows.
	s.consoleBack()
	s.rescue(fmt.Sprintf("exec %s %s: %v", bootfs.Svscan, bootfs.Scandir, err))
}

// BaseEnv returns env with PATH set to the image's PATH and svinit's
// internal markers removed.
func BaseEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		switch k {
		case "PATH", EnvStage2, EnvStage2FIFO, EnvStage2Prog:
			continue
		}
		if strings.HasPrefix(k, "svinit.") {
			continue // svinit.x=y from the kernel command line: ours, not the services'
		}
		out = append(out, e)
	}
	return append(out, "PATH="+bootfs.DefaultPath)
}

// StartStage2 starts the stage-2 child: this program again (same argv[0],
// so a multi-call binary dispatches the same way) with EnvStage2=1 in
// its environment. It does not wait for it: svscan, which process 1
// becomes, reaps it.
func (s *Stage1) StartStage2(fifoPath string, env []string) error {
	self := "/proc/self/exe"
	argv0 := "init"
	if len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	cenv := append(env[:len(env):len(env)], EnvStage2+"=1", EnvStage2FIFO+"="+fifoPath, EnvStage2Prog+"="+s.Stage2Path())
	null, err := os.Open(s.P("/dev/null"))
	if err != nil {
		return fmt.Errorf("open /dev/null for stage 2's stdin: %w", err)
	}
	defer null.Close()
	p, err := os.StartProcess(self, []string{argv0}, &os.ProcAttr{
		Env:   cenv,
		Files: []*os.File{null, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return fmt.Errorf("start the stage-2 child (%s): %w", self, err)
	}
	if fifoPath != "" {
		s.Debugf("stage-2 child pid %d waits for the catch-all logger, then runs %s", p.Pid, s.Stage2Path())
	} else {
		s.Debugf("stage-2 child pid %d runs %s", p.Pid, s.Stage2Path())
	}
	return p.Release()
}

// IsStage2Child reports whether this process is the stage-2 child.
func IsStage2Child() bool { return os.Getenv(EnvStage2) == "1" }

// Stage2Child is the stage-2 child's whole life: open the catch-all FIFO
// for writing the ordinary, blocking way (so it returns only once the
// logger has opened it for reading: the supervision tree is up), put it
// on fds 1 and 2, and exec stage 2. It returns only on failure, with the
// exit code to use, after telling the log and the console why.
func Stage2Child() int {
	fifoPath := os.Getenv(EnvStage2FIFO)
	prog := os.Getenv(EnvStage2Prog)
	env := BaseEnv(os.Environ())
	if prog == "" {
		prog = bootfs.Stage2
	}
	if fifoPath != "" {
		fd, err := OpenFIFOBlocking(fifoPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "uinit: stage 2: %v; stage 2 not started\n", err)
			return 111
		}
		unix.Dup3(fd, 1, 0)
		unix.Dup3(fd, 2, 0)
		unix.Close(fd)
	}
	err := unix.Exec(prog, []string{prog}, env)
	msg := fmt.Sprintf("uinit: stage 2: cannot run %s: %v; nothing beyond the early services will start (put an executable there, or name one with svinit.stage2= on the kernel command line)\n", prog, err)
	os.Stderr.WriteString(msg)
	if c, cerr := os.OpenFile(bootfs.Console, os.O_WRONLY|unix.O_NOCTTY, 0); cerr == nil && fifoPath != "" {
		c.WriteString(msg)
		c.Close()
	}
	return 111
}

// OpenFIFOBlocking opens path for writing the normal, blocking way: the
// call returns once some process has it open for reading.
func OpenFIFOBlocking(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("open %s for writing: %w", path, err)
		}
		return fd, nil
	}
}

// Rescue prints reason and runs a rescue shell on the console, forever:
// when the shell exits another starts a second later. Process 1 reaps
// every child meanwhile. It never returns.
func (s *Stage1) Rescue(reason string) {
	s.Logf("%s", reason)
	env := BaseEnv(os.Environ())
	for {
		shell := ""
		for _, sh := range RescueShells {
			if fi, err := os.Stat(s.P(sh)); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				shell = sh
				break
			}
		}
		if shell == "" {
			s.Logf("no rescue shell (looked for %s); nothing left to do", strings.Join(RescueShells, ", "))
			reapFor(time.Minute)
			continue
		}
		s.Logf("starting the rescue shell %s; when it exits another one starts", shell)
		pid, err := syscall.ForkExec(shell, []string{shell}, &syscall.ProcAttr{
			Env:   env,
			Files: []uintptr{0, 1, 2},
			Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
		})
		if err != nil {
			// Without a controlling terminal, maybe.
			pid, err = syscall.ForkExec(shell, []string{shell}, &syscall.ProcAttr{
				Env: env, Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Setsid: true},
			})
		}
		if err != nil {
			s.Logf("start %s: %v", shell, err)
			reapFor(5 * time.Second)
			continue
		}
		for {
			var ws unix.WaitStatus
			wpid, err := unix.Wait4(-1, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || wpid == pid {
				break
			}
		}
		s.Logf("rescue shell exited")
		time.Sleep(time.Second)
	}
}

// reapFor reaps any children for about d.
func reapFor(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); err != nil && !errors.Is(err, unix.EINTR) {
			time.Sleep(time.Second)
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SvscanArgv is the command line stage 1 execs svscan with: the scan
// directory, and -B -C for svinit.s6 (s6's exact behaviour).
func SvscanArgv(c bootfs.Cmdline) []string {
	argv := []string{"svscan"}
	if c.S6 {
		argv = append(argv, "-B", "-C")
	}
	return append(argv, bootfs.Scandir)
}
