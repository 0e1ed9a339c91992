package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"
)

// impl is one supervision suite under test.
type impl struct {
	name string
	// scanner returns the command that supervises scan directory dir.
	scanner func(dir string) *exec.Cmd
	// trigger asks a running scanner to rescan (nil: the scanner polls).
	trigger func(dir string) error
	// status reads a service's supervise/status: the pid of ./run (0 if
	// none) and whether the service is up (./run running, not finishing).
	status func(svc string) (pid int, up bool)
	// tree lists the supervision processes (scanner and per-service
	// supervisors, not the services) rooted at the scanner's pid.
	tree func(scanner int) []int
	// cli runs the real client tools: letter 'd' or 'u', waiting for the
	// state (nil: not measured).
	cli func(svc string, letter byte) error
	// files are empty files put in every service directory (svinit-nocg:
	// svinit-no-cgroup, to measure what a cgroup per service costs).
	files []string
}

func implByName(name, bin string) (*impl, error) {
	switch name {
	case "svinit", "svinit-nocg":
		var files []string
		if name == "svinit-nocg" {
			files = []string{servicedir.NoCgroup}
		}
		return &impl{
			name:    name,
			files:   files,
			scanner: func(dir string) *exec.Cmd { return exec.Command(filepath.Join(bin, "svscan"), dir) },
			trigger: func(dir string) error { return run(filepath.Join(bin, "svscanctl"), "-a", dir) },
			status:  s6Status,
			tree:    func(pid int) []int { return []int{pid} },
			cli: func(svc string, c byte) error {
				return run(filepath.Join(bin, "svc"), "-w"+string(c), "-"+string(c), svc)
			},
		}, nil
	case "s6":
		return &impl{
			name:    name,
			scanner: func(dir string) *exec.Cmd { return exec.Command("s6-svscan", "-c", "4096", dir) },
			trigger: func(dir string) error { return run("s6-svscanctl", "-a", dir) },
			status:  s6Status,
			tree:    func(pid int) []int { return withChildren(pid, "s6-supervise") },
			cli: func(svc string, c byte) error {
				return run("s6-svc", "-w"+string(c), "-"+string(c), svc)
			},
		}, nil
	case "runit":
		return &impl{
			name:    name,
			scanner: func(dir string) *exec.Cmd { return exec.Command("runsvdir", "-P", dir) },
			status:  runitStatus,
			tree:    func(pid int) []int { return withChildren(pid, "runsv") },
		}, nil
	}
	return nil, fmt.Errorf("unknown implementation %q (svinit, svinit-nocg, s6, runit)", name)
}

func run(argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// readSmall reads a small file into buf without allocating.
func readSmall(path string, buf []byte) int {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	n, _ := unix.Read(fd, buf)
	unix.Close(fd)
	return n
}

// s6Status decodes s6's 35-byte supervise/status (shared by svscan).
func s6Status(svc string) (int, bool) {
	var b [64]byte
	if readSmall(svc+"/supervise/status", b[:]) < 35 {
		return 0, false
	}
	pid := int(binary.BigEndian.Uint64(b[24:32]))
	finishing := b[34]&2 != 0
	return pid, pid != 0 && !finishing
}

// runitStatus decodes runsv's 20-byte supervise/status: TAI64N [12], pid
// little-endian [4], paused, want, term, state (0 down, 1 run, 2 finish).
func runitStatus(svc string) (int, bool) {
	var b [64]byte
	if readSmall(svc+"/supervise/status", b[:]) < 20 {
		return 0, false
	}
	pid := int(binary.LittleEndian.Uint32(b[12:16]))
	return pid, pid != 0 && b[19] == 1
}

// withChildren is pid plus its children whose command name is comm.
func withChildren(pid int, comm string) []int {
	pids := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := bytes.LastIndexByte(b, ')')
		j := bytes.IndexByte(b, '(')
		if i < 0 || j < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 || string(b[j+1:i]) != comm {
			continue
		}
		if pp, _ := strconv.Atoi(f[1]); pp == pid {
			pids = append(pids, p)
		}
	}
	return pids
}

// mem is the memory of a set of processes, in kB.
type mem struct{ pss, rss, anon int }

func memOf(pids []int) (mem, error) {
	var m mem
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			return m, err
		}
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			v, _ := strconv.Atoi(f[1])
			switch f[0] {
			case "Pss:":
				m.pss += v
			case "Rss:":
				m.rss += v
			case "Pss_Anon:":
				m.anon += v
			}
		}
	}
	return m, nil
}

// session is one running scanner on a fresh scan directory.
type session struct {
	im    *impl
	root  string // everything of this session lives below
	scan  string
	stage string
	cmd   *exec.Cmd
	pause string
}

func startSession(im *impl, pause string) (*session, error) {
	root, err := os.MkdirTemp("", "svbench-"+im.name+"-")
	if err != nil {
		return nil, err
	}
	s := &session{im: im, root: root, scan: filepath.Join(root, "scan"), stage: filepath.Join(root, "stage"), pause: pause}
	for _, d := range []string{s.scan, s.stage} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	s.cmd = im.scanner(s.scan)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = devnull, devnull, devnull
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	active = s
	// Ready: something reads .s6-svscan/control (runsvdir has none).
	deadline := time.Now().Add(10 * time.Second)
	if im.trigger != nil {
		for {
			fd, err := unix.Open(filepath.Join(s.scan, ".s6-svscan", "control"), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(fd)
				break
			}
			if time.Now().After(deadline) {
				s.stop()
				return nil, fmt.Errorf("%s: scanner not listening after 10s: %v", im.name, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // let it settle
	return s, nil
}

// stage prepares n services (names prefixed p) outside the scan dir.
func (s *session) stageServices(p string, n int) ([]string, error) {
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%04d", p, i)
		d := filepath.Join(s.stage, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.Link(s.pause, filepath.Join(d, "run")); err != nil {
			return nil, err
		}
		for _, f := range s.im.files {
			if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
				return nil, err
			}
		}
		names = append(names, name)
	}
	return names, nil
}

// add moves a staged service into the scan directory.
func (s *session) add(name string) error {
	return os.Rename(filepath.Join(s.stage, name), filepath.Join(s.scan, name))
}

// timeUp moves the staged names into the scan directory and times how
// long until every one is up: from the rescan command (svscanctl -a,
// s6-svscanctl -a), or from the first rename for runsvdir, which has no
// command and notices new directories by itself.
func (s *session) timeUp(im *impl, names []string) (time.Duration, error) {
	var t0 time.Time
	if im.trigger == nil {
		t0 = time.Now()
	}
	for _, name := range names {
		if err := s.add(name); err != nil {
			return 0, err
		}
	}
	if im.trigger != nil {
		t0 = time.Now()
		if err := im.trigger(s.scan); err != nil {
			return 0, err
		}
	}
	if err := s.waitUp(names, 120*time.Second); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

func (s *session) dir(name string) string { return filepath.Join(s.scan, name) }

// waitUp polls until every service reports up; it returns when the last
// one did. Each pass checks the services in order and stops at the first
// one still down, then naps 100µs: the poller costs almost no CPU (it
// must not compete with the supervisors for the machine's cores) and
// finishes at most one nap after the last service came up.
func (s *session) waitUp(names []string, timeout time.Duration) error {
	dirs := make([]string, len(names))
	for i, n := range names {
		dirs[i] = s.dir(n)
	}
	deadline := time.Now().Add(timeout)
	next := 0
	for i := 0; ; i++ {
		for next < len(dirs) {
			if _, up := s.im.status(dirs[next]); !up {
				break
			}
			next++
		}
		if next == len(dirs) {
			return nil
		}
		if i%1024 == 0 && time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d services not up after %v (first: %s)", s.im.name, len(dirs)-next, len(names), timeout, dirs[next])
		}
		nap(100 * time.Microsecond)
	}
}

// waitPid polls one service until its status satisfies ok.
func (s *session) waitPid(name string, ok func(pid int, up bool) bool, timeout time.Duration) error {
	d := s.dir(name)
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		if ok(s.im.status(d)) {
			return nil
		}
		if i%256 == 0 && time.Now().After(deadline) {
			pid, up := s.im.status(d)
			return fmt.Errorf("%s: service %s: state not reached after %v (pid %d, up %v)", s.im.name, name, timeout, pid, up)
		}
		nap(20 * time.Microsecond)
	}
}

// nap sleeps in the kernel (a Go timer would round short sleeps up).
func nap(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Nanosleep(&ts, nil)
}

// stop kills the scanner and every process working below the session's
// directory (supervisors and services), then removes it.
func (s *session) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	killBelow(s.root)
	os.RemoveAll(s.root)
	if active == s {
		active = nil
	}
}

// active is the running session, for cleanup on interrupt.
var active *session

// killBelow SIGKILLs every process whose working directory is under
// root, until none is left.
func killBelow(root string) {
	for try := 0; try < 500; try++ {
		n := 0
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
			if err != nil || !(cwd == root || strings.HasPrefix(cwd, root+"/")) {
				continue
			}
			if err := syscall.Kill(p, syscall.SIGKILL); err == nil || !errors.Is(err, syscall.ESRCH) {
				n++
			}
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(os.Stderr, "svbench: warning: processes below %s survive SIGKILL\n", root)
}
