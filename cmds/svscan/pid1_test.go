package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// svscan as process 1 of a new PID namespace: the kernel treats it as it
// treats init (a signal whose action is the default is dropped; only
// SIGKILL and SIGSTOP sent from the parent namespace get through).
// Root only (CI runs as root).

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root (a PID namespace): run the tests as root")
	}
}

// sigqueue sends sig to pid with si_code SI_QUEUE, as sigqueue(3) does.
func sigqueue(pid int, sig syscall.Signal) error {
	var info [128]byte // siginfo_t: signo, errno, code, pad, pid, uid, value
	*(*int32)(unsafe.Pointer(&info[0])) = int32(sig)
	*(*int32)(unsafe.Pointer(&info[8])) = -1 // SI_QUEUE
	*(*int32)(unsafe.Pointer(&info[16])) = int32(os.Getpid())
	*(*uint32)(unsafe.Pointer(&info[20])) = uint32(os.Getuid())
	_, _, e := syscall.Syscall(syscall.SYS_RT_SIGQUEUEINFO, uintptr(pid), uintptr(sig), uintptr(unsafe.Pointer(&info[0])))
	if e != 0 {
		return e
	}
	return nil
}

// svc writes letters to dir's supervise/control.
func svc(t *testing.T, dir, letters string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatalf("svc: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString(letters); err != nil {
		t.Fatalf("svc: %v", err)
	}
}

// startPID1 starts svscan on dir as process 1 of a new PID namespace,
// through prlimit when nofile is set ("soft:hard"). The namespace dies
// with the test.
func startPID1(t *testing.T, dir, nofile string) *scan {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "svscan.out"))
	if err != nil {
		t.Fatal(err)
	}
	s := &scan{t: t, dir: dir, out: &outFile{f}, done: make(chan error, 1)}
	if nofile != "" {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			t.Fatal("prlimit not found: install the Debian package util-linux")
		}
		s.cmd = exec.Command(prlimit, "--nofile="+nofile, svscanBin, dir)
	} else {
		s.cmd = exec.Command(svscanBin, dir)
	}
	s.cmd.Stdout, s.cmd.Stderr = f, f
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID, Pdeathsig: unix.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() {
		// Process 1 gone, the kernel kills the rest of the namespace.
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			t.Errorf("svscan (process 1) not gone after SIGKILL")
		}
	})
	return s
}

// alive fails the test if process 1 has exited.
func (s *scan) alive(after string) {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.exited = true
		s.t.Fatalf("svscan as process 1 exited (%v) after %s; output:\n%s", err, after, s.out)
	default:
	}
}

// Every signal a process may send (all but SIGKILL and SIGSTOP, which
// the kernel never lets reach init from inside), with kill(2) and with
// sigqueue(3), leaves process 1 alive and supervising. The signals svscan acts on have hooks here (a hook
// replaces the default action), which must each have run.
func TestEverySignalAsProcess1(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	hooks := filepath.Join(d, "hooks.out")
	sigIgn := filepath.Join(d, "sigign.out")
	files := map[string]string{
		// What a service ignores: nothing of what process 1 ignores.
		"ign/run":   "#!/bin/sh\ngrep SigIgn /proc/self/status > " + sigIgn + ".new\nmv " + sigIgn + ".new " + sigIgn + "\nexec sleep 1000\n",
		"a/run":     sleeper,
		"b/run":     sleeper,
		"b/log/run": "#!/bin/sh\nexec cat > /dev/null\n",
	}
	hooked := []string{"SIGHUP", "SIGINT", "SIGTERM", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGPWR", "SIGWINCH", "SIGALRM", "SIGABRT"}
	for _, h := range hooked {
		files[".s6-svscan/"+h] = "#!/bin/sh\necho " + h + " >> " + hooks + "\n"
	}
	service(t, d, files)
	s := startPID1(t, d, "")
	for _, n := range []string{"a", "b", "b/log"} {
		s.waitFor(n+" up", isUp(filepath.Join(d, n)))
	}
	pid := s.cmd.Process.Pid
	for sig := syscall.Signal(1); sig <= 64; sig++ {
		if sig == syscall.SIGKILL || sig == syscall.SIGSTOP {
			continue
		}
		name := unix.SignalName(sig)
		if name == "" {
			name = fmt.Sprintf("signal %d", int(sig))
		}
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("kill %s: %v", name, err)
		}
		// And as sigqueue(3) sends it, which the Go runtime takes for
		// a fault when it is one of the fault signals. SIGSEGV is the
		// hole left (docs/svscan.md): its handler must stay the
		// runtime's, for nil pointer panics.
		if sig != syscall.SIGSEGV {
			if err := sigqueue(pid, sig); err != nil {
				t.Fatalf("sigqueue %s: %v", name, err)
			}
		}
		// A round trip through the scanner after each signal: a new
		// service, a scan, the service up. A signal that kills would
		// have done so long before.
		svc := fmt.Sprintf("after%d", int(sig))
		service(t, d, map[string]string{svc + "/run": sleeper})
		s.control("a")
		s.waitFor(svc+" up after "+name, func() bool {
			s.alive(name)
			return isUp(filepath.Join(d, svc))()
		})
	}
	// Still supervising: a killed service comes back. (Pids in status
	// files are the namespace's: the supervisor kills it, svc -k.)
	st, _ := status(filepath.Join(d, "a"))
	svc(t, filepath.Join(d, "a"), "k")
	s.waitFor("a restarted", func() bool {
		s.alive("every signal")
		n, ok := status(filepath.Join(d, "a"))
		return ok && n.Up() && n.Pid != st.Pid
	})
	s.waitFor("every hook run", func() bool {
		b, _ := os.ReadFile(hooks)
		for _, h := range hooked {
			if !strings.Contains(string(b), h+"\n") {
				return false
			}
		}
		return true
	})
	s.alive("every signal")
	var b []byte
	s.waitFor("a service's ignored signals", func() bool { b, _ = os.ReadFile(sigIgn); return len(b) > 0 })
	var mask uint64
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(b), "SigIgn:"), "%x", &mask); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGILL, syscall.SIGTRAP, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGSTKFLT, syscall.SIGSYS, syscall.SIGSEGV} {
		if mask&(1<<(sig-1)) != 0 {
			t.Errorf("a service ignores %v (SigIgn %x): it must get the default action", sig, mask)
		}
	}
}

// capSysResource reports whether this process may raise a hard limit
// (a container's root usually may not).
func capSysResource() bool {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			var caps uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &caps)
			return caps&(1<<unix.CAP_SYS_RESOURCE) != 0
		}
	}
	return false
}

// Services that need more descriptors than the soft limit svscan was
// started with: it raises the soft limit to the hard one, and as process
// 1 the hard limit too (given CAP_SYS_RESOURCE), so a limit of 256 still
// lets it supervise 500 services. Beyond the hard limit it says which
// limit was reached and how to raise it.
func TestFileLimit(t *testing.T) {
	pid1Limit := "256:256"
	if !capSysResource() {
		// Without CAP_SYS_RESOURCE (a container's root) not even process
		// 1 may raise a hard limit: prove the soft raise only.
		t.Log("no CAP_SYS_RESOURCE here: process 1 cannot raise its hard limit; testing it with a hard limit of 4096")
		pid1Limit = "256:4096"
	}
	for _, tc := range []struct {
		name   string
		pid1   bool
		nofile string
		n      int
		allUp  bool
	}{
		{"process 1, 500 services", true, pid1Limit, 500, true},
		{"soft limit 256, 500 services", false, "256:4096", 500, true},
		{"hard limit 128 reached", false, "128:128", 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pid1 {
				needRoot(t)
			}
			d := t.TempDir()
			files := map[string]string{}
			for i := 0; i < tc.n; i++ {
				files[fmt.Sprintf("s%03d/run", i)] = sleeper
			}
			limits := filepath.Join(d, "limits.out")
			files["limits/run"] = "#!/bin/sh\necho $(ulimit -Sn) $(ulimit -Hn) > " + limits + ".new\nmv " + limits + ".new " + limits + "\nexec sleep 1000\n"
			service(t, d, files)
			var s *scan
			if tc.pid1 {
				s = startPID1(t, d, tc.nofile)
			} else {
				s = startLimited(t, d, tc.nofile)
			}
			if !tc.allUp {
				s.waitFor("the limit reported", func() bool {
					o := s.out.String()
					return strings.Contains(o, "too many open files: svscan has reached its limit of 128 open descriptors (RLIMIT_NOFILE") &&
						strings.Contains(o, "ulimit -Hn")
				})
				// A service that cannot be supervised is reported once,
				// not at each try (every second, or at each rescan): the
				// report of a service added later shows a later scan ran.
				service(t, d, map[string]string{"zz-late/run": sleeper})
				s.control("a")
				s.waitFor("a later scan", func() bool { return strings.Contains(s.out.String(), "/zz-late") })
				// The scanner's reports ("service X not supervised: ...",
				// "service dir X: ..." when its supervisor cannot be set
				// up), not what running supervisors say.
				counts := map[string][]string{}
				for _, l := range strings.Split(s.out.String(), "\n") {
					f := strings.Fields(l)
					switch {
					case len(f) > 3 && f[1] == "service" && f[3] == "not":
						counts[f[2]] = append(counts[f[2]], l)
					case len(f) > 3 && f[1] == "service" && f[2] == "dir":
						svc := strings.TrimSuffix(f[3], ":")
						counts[svc] = append(counts[svc], l)
					}
				}
				for svc, ls := range counts {
					if len(ls) > 1 {
						t.Errorf("%s reported %d times, want once:\n%s", svc, len(ls), strings.Join(ls, "\n"))
					}
				}
				// The services that fit are supervised.
				s.waitFor("a service up", func() bool {
					for i := 0; i < tc.n; i++ {
						if isUp(filepath.Join(d, fmt.Sprintf("s%03d", i)))() {
							return true
						}
					}
					return false
				})
				return
			}
			s.waitFor(fmt.Sprintf("all %d services up", tc.n), func() bool {
				s.alive("start")
				for i := 0; i < tc.n; i++ {
					if !isUp(filepath.Join(d, fmt.Sprintf("s%03d", i)))() {
						return false
					}
				}
				return true
			})
			// svscan's soft limit is its hard limit.
			var own unix.Rlimit
			if err := unix.Prlimit(s.cmd.Process.Pid, unix.RLIMIT_NOFILE, nil, &own); err != nil {
				t.Fatal(err)
			}
			if own.Cur != own.Max {
				t.Errorf("svscan's RLIMIT_NOFILE is %d:%d, want the soft limit raised to the hard one", own.Cur, own.Max)
			}
			if !tc.pid1 {
				return
			}
			// Under process 1, services get the kernel's soft limit for
			// init (1024) and the raised hard limit.
			var b []byte
			s.waitFor("the service's limits", func() bool { b, _ = os.ReadFile(limits); return len(b) > 0 })
			if want := fmt.Sprintf("%d %d\n", min(1024, own.Max), own.Max); string(b) != want {
				t.Errorf("a service's soft and hard limits: %q, want %q", b, want)
			}
		})
	}
}

// startLimited starts svscan on dir with RLIMIT_NOFILE set to nofile
// ("soft:hard"). Each service leads a session of its own: killing
// svscan (or its process group) would leave them all running; q (at the
// end, see launch) brings every service down before svscan exits.
func startLimited(t *testing.T, dir, nofile string) *scan {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatal("prlimit not found: install the Debian package util-linux")
	}
	return launch(t, dir, exec.Command(prlimit, "--nofile="+nofile, svscanBin, dir))
}
