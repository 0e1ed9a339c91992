package supervise

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"
)

// waitFor polls cond (a file the service writes, a message) with a
// generous overall deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, 30*time.Second, cond, nil)
}

// background returns shell words that start cmd in the background with
// no standard descriptor of ours (go test would wait for them) and record
// its pid; once the test and its supervisors have ended, every process so
// recorded is killed.
func background(t *testing.T, cmd string) string {
	pids := filepath.Join(t.TempDir(), "pids")
	t.Cleanup(func() {
		for _, p := range strings.Fields(readFile(t, pids)) {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return cmd + " </dev/null >/dev/null 2>&1 &\necho $! >> " + pids + "\necho $! > bg\n"
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return string(b)
}

// TestNotificationFdAnyNumber: as s6-supervise, any descriptor number,
// stdin, stdout and stderr included, gets the notification pipe.
func TestNotificationFdAnyNumber(t *testing.T) {
	for _, fd := range []int{0, 1, 2, 3, 9} {
		t.Run(strconv.Itoa(fd), func(t *testing.T) {
			n := strconv.Itoa(fd)
			h := start(t, map[string]string{
				"run":             "#!/bin/sh\nt=$(readlink /proc/$$/fd/" + n + ")\necho \"$t\" > fd.target\necho ready >&" + n + "\nexec sleep 1000\n",
				"notification-fd": n + "\n",
			})
			h.waitEvents("uU")
			if got := readFile(t, filepath.Join(h.dir, "fd.target")); !strings.HasPrefix(got, "pipe:") {
				t.Errorf("descriptor %d of run is %q, want the notification pipe", fd, got)
			}
		})
	}
}

// TestNotificationFdReplacesStdout: with notification-fd 1 the pipe is
// the service's stdout, not the logger pipe it would have had
// (s6-fdholder-daemon -1 under s6-rc).
func TestNotificationFdReplacesStdout(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"run":             "#!/bin/sh\nt1=$(readlink /proc/$$/fd/1)\nt2=$(readlink /proc/$$/fd/2)\necho \"$t1\" > fd1\necho \"$t2\" > fd2\necho >&1\nexec sleep 1000\n",
		"notification-fd": "1",
	})
	logR, logW, err := os.Pipe()
	must(t, err)
	defer logR.Close()
	defer logW.Close()
	var st syscall.Stat_t
	must(t, syscall.Fstat(int(logW.Fd()), &st))
	logPipe := "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
	r := reaper.New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	svc, err := New(dir, Options{Reaper: r, Stdout: logW, Stderr: logW})
	must(t, err)
	svc.Start()
	defer func() { svc.Control("dx"); <-svc.Done() }()
	waitFor(t, "ready", func() bool { st, err := servicedir.ReadStatus(dir); return err == nil && st.Ready && st.Up() })
	fd1, fd2 := readFile(t, filepath.Join(dir, "fd1")), readFile(t, filepath.Join(dir, "fd2"))
	if strings.TrimSpace(fd1) == logPipe || !strings.HasPrefix(fd1, "pipe:") {
		t.Errorf("stdout of run is %q, want the notification pipe (the logger pipe is %s)", fd1, logPipe)
	}
	if strings.TrimSpace(fd2) != logPipe {
		t.Errorf("stderr of run is %q, want the logger pipe %s", fd2, logPipe)
	}
}

// TestRunArgument: ./run gets the service name, as s6-supervise 2.11
// passes it.
func TestRunArgument(t *testing.T) {
	h := start(t, map[string]string{"run": "#!/bin/sh\necho \"$#:$1\" > args\nexec sleep 1000\n"})
	h.waitEvents("u")
	waitFor(t, "args", func() bool { return strings.HasSuffix(readFile(t, filepath.Join(h.dir, "args")), "\n") })
	if got := readFile(t, filepath.Join(h.dir, "args")); got != "1:svc\n" {
		t.Errorf("run's arguments: %q, want 1:svc", got)
	}
}

// TestNotifyPipeNotLeaked: run dies while a background child keeps the
// write end of the notification pipe: the supervisor must still let go
// of the read end (and of the goroutine reading it) at each restart.
func TestNotifyPipeNotLeaked(t *testing.T) {
	h := start(t, map[string]string{
		"run":             "#!/bin/sh\n" + background(t, "sleep 1000 3>&3") + "exit 1\n",
		"notification-fd": "3",
	})
	// Pipes open in this process (the read ends of notification pipes
	// among them), and goroutines.
	count := func() (int, int) {
		ents, err := os.ReadDir("/proc/self/fd")
		must(t, err)
		pipes := 0
		for _, e := range ents {
			if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "pipe:") {
				pipes++
			}
		}
		return pipes, runtime.NumGoroutine()
	}
	h.waitEvents("udD")
	pipes, gs := count()
	for i := 0; i < 5; i++ {
		h.waitEvents("udD")
	}
	// Each death let go of its pipe and reader (that goroutine ends
	// asynchronously: wait for it); a leak adds one of each per restart.
	var p, g int
	if !testutil.Poll(20*time.Second, func() bool { p, g = count(); return p <= pipes && g <= gs }) {
		t.Fatalf("after 5 restarts: %d -> %d pipes, %d -> %d goroutines", pipes, p, gs, g)
	}
}

// TestLockFd: lock-fd gives ./run supervise/service-lock, locked, at
// that descriptor; while a previous instance (here a background child of
// ./run) holds it, ./run is not started again; once it is released, it is.
// (svinit-no-cgroup: s6's behaviour; in its cgroup, the background child
// would be killed once the service is down, see TestCgroupDoubleFork.)
func TestLockFd(t *testing.T) {
	h := start(t, map[string]string{
		"run":               "#!/bin/sh\nt=$(readlink /proc/$$/fd/5)\necho \"$t\" > lock.target\n" + background(t, "sleep 1000") + "exec sleep 1000\n",
		"lock-fd":           "5",
		servicedir.NoCgroup: "",
	})
	h.waitEvents("u")
	bgFile := filepath.Join(h.dir, "bg")
	waitFor(t, "the background child", func() bool { return strings.HasSuffix(readFile(t, bgFile), "\n") })
	if got := readFile(t, filepath.Join(h.dir, "lock.target")); !strings.HasSuffix(got, "/supervise/service-lock\n") {
		t.Errorf("descriptor 5 of run is %q, want supervise/service-lock", got)
	}
	lockPath := filepath.Join(h.dir, "supervise", "service-lock")
	held := func() bool {
		f, err := os.OpenFile(lockPath, os.O_WRONLY, 0)
		must(t, err)
		defer f.Close()
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		must(t, unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk))
		return lk.Type != unix.F_UNLCK
	}
	if !held() {
		t.Fatal("supervise/service-lock is not locked while the service runs")
	}
	bg, _ := strconv.Atoi(strings.TrimSpace(readFile(t, bgFile)))
	// The service dies; its background child keeps the lock.
	syscall.Kill(int(h.status().Pid), syscall.SIGKILL)
	h.waitEvents("dD")
	waitFor(t, "the report of the held lock", func() bool { return h.logged("service-lock is locked") })
	if st := h.status(); st.Pid != 0 || !st.WantUp {
		t.Errorf("status %+v: want down and wanted up while the lock is held", st)
	}
	syscall.Kill(bg, syscall.SIGKILL)
	h.waitEvents("u")
}

func TestLockFdSameAsNotificationFd(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper, "lock-fd": "4", "notification-fd": "4"})
	waitFor(t, "the report", func() bool { return h.logged("are both 4") })
	if st := h.status(); st.Pid != 0 {
		t.Errorf("status %+v: want down", st)
	}
}

// TestRestartSendsDownSignalOnly: r sends down-signal alone, as
// s6-supervise (d also sends SIGCONT).
func TestRestartSendsDownSignalOnly(t *testing.T) {
	h := start(t, map[string]string{
		"run":             "#!/bin/sh\ntrap 'echo cont >> sig' CONT\ntrap 'echo hup >> sig; exit 0' HUP\n" + background(t, "sleep 1000") + "echo >&3\nwait\n",
		"down-signal":     "HUP",
		"notification-fd": "3",
	})
	h.waitEvents("uU")
	h.control("r")
	h.waitEvents("dDu")
	if got := readFile(t, filepath.Join(h.dir, "sig")); got != "hup\n" {
		t.Errorf("signals seen: %q, want hup alone", got)
	}
}

// TestDeathTallyReread: the tally is read again at each death, so that
// s6-svdt-clear (an empty tally written over it) works.
func TestDeathTallyReread(t *testing.T) {
	h := start(t, map[string]string{"run": "#!/bin/sh\nexit 3\n", "down": ""})
	tally := filepath.Join(h.dir, "supervise", "death_tally")
	h.control("o")
	h.waitEvents("udD")
	h.control("o")
	h.waitEvents("udD")
	if b := readFile(t, tally); len(b) != 2*servicedir.DeathRecordSize {
		t.Fatalf("tally of %d bytes after 2 deaths", len(b))
	}
	must(t, os.WriteFile(tally+".tmp", nil, 0o644))
	must(t, os.Rename(tally+".tmp", tally))
	h.control("o")
	h.waitEvents("udD")
	if b := readFile(t, tally); len(b) != servicedir.DeathRecordSize || b[12] != 3 {
		t.Errorf("tally %x after clearing and one death: want one record of exit 3", b)
	}
}

// TestRestartDelay: a service started more than a second ago restarts
// at once; one started less than a second ago waits for that second.
func TestRestartDelay(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper, "down": ""})
	s := h.svc
	s.Start()
	for _, tc := range []struct {
		spawned time.Time
		now     bool
	}{
		{time.Time{}, true},
		{time.Now().Add(-2 * time.Second), true},
		{time.Now(), false},
	} {
		s.mu.Lock()
		s.status.WantUp = true
		s.spawned = tc.spawned
		s.reallyDown(false, false)
		st := s.st
		if st == stUp {
			s.status.WantUp = false
			s.sendDown()
		}
		s.stopTimer()
		s.mu.Unlock()
		if (st == stUp) != tc.now {
			t.Errorf("started at %v: restarted at once = %v, want %v", tc.spawned, st == stUp, tc.now)
		}
		if st == stUp {
			h.waitEvents("dD")
		}
	}
}

// TestPlantedLinks: a symbolic link at event or supervise is followed
// only to create its missing target; one pointing to something that
// exists is refused, and what it points to is not touched.
func TestPlantedLinks(t *testing.T) {
	r := reaper.New()
	for _, name := range []string{"event", "supervise"} {
		t.Run(name+" to an existing directory", func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"run": sleeper})
			target := t.TempDir()
			must(t, os.Chmod(target, 0o755))
			must(t, os.Chown(target, 65534, 65534))
			must(t, os.Symlink(target, filepath.Join(dir, name)))
			_, err := New(dir, Options{Reaper: r})
			if err == nil || !strings.Contains(err.Error(), name+" is a symbolic link to "+target+", which exists") {
				t.Fatalf("New: %v, want a refusal naming %s", err, name)
			}
			var st unix.Stat_t
			must(t, unix.Stat(target, &st))
			if st.Mode&0o7777 != 0o755 || st.Uid != 65534 || st.Gid != 65534 {
				t.Errorf("target changed: mode %o, owner %d:%d", st.Mode&0o7777, st.Uid, st.Gid)
			}
			if ents, _ := os.ReadDir(target); len(ents) != 0 {
				t.Errorf("files made in the target: %v", ents)
			}
		})
		t.Run(name+" dangling", func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"run": sleeper, "down": ""})
			target := filepath.Join(t.TempDir(), "run", name)
			must(t, os.MkdirAll(filepath.Dir(target), 0o755))
			must(t, os.Symlink(target, filepath.Join(dir, name)))
			svc, err := New(dir, Options{Reaper: r})
			must(t, err)
			defer func() { svc.Control("x"); <-svc.Done() }()
			fi, err := os.Stat(target)
			must(t, err)
			want := os.ModeDir | 0o700
			if name == "event" {
				want = os.ModeDir | os.ModeSetgid | os.ModeSticky | 0o730
			}
			if fi.Mode() != want {
				t.Errorf("target mode %v, want %v", fi.Mode(), want)
			}
			if name == "supervise" {
				if _, err := servicedir.ReadStatus(dir); err != nil {
					t.Errorf("status through the link: %v", err)
				}
			}
		})
	}
}

// TestExistingRightsKept: an existing event/ and control FIFO keep the
// rights s6-svperms gave them.
func TestExistingRightsKept(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"run": sleeper, "down": ""})
	must(t, os.Mkdir(filepath.Join(dir, "event"), 0o700))
	must(t, unix.Chmod(filepath.Join(dir, "event"), 0o1733))
	must(t, os.Mkdir(filepath.Join(dir, "supervise"), 0o700))
	must(t, os.Chmod(filepath.Join(dir, "supervise"), 0o711))
	must(t, unix.Mkfifo(filepath.Join(dir, "supervise", "control"), 0o600))
	must(t, os.Chmod(filepath.Join(dir, "supervise", "control"), 0o620))
	svc, err := New(dir, Options{Reaper: reaper.New()})
	must(t, err)
	defer func() { svc.Control("x"); <-svc.Done() }()
	for path, want := range map[string]os.FileMode{
		"event":             os.ModeDir | os.ModeSticky | 0o733,
		"supervise":         os.ModeDir | 0o711,
		"supervise/control": os.ModeNamedPipe | 0o620,
	} {
		fi, err := os.Stat(filepath.Join(dir, path))
		must(t, err)
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v kept", path, fi.Mode(), want)
		}
	}
}
