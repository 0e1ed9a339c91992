package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/tai64n"
	"golang.org/x/sys/unix"
)

// harness runs one supervised service in this test process.
type harness struct {
	t    *testing.T
	dir  string
	svc  *Service
	ev   *servicedir.Listener
	mu   sync.Mutex
	logs []string
	got  []byte // events seen so far
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "run" || name == "finish" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func start(t *testing.T, files map[string]string) *harness {
	t.Helper()
	return startWith(t, files, Options{})
}

// startWith is start with opts (Reaper, Name and Logf are the harness's).
func startWith(t *testing.T, files map[string]string, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir()}
	writeFiles(t, h.dir, files)
	if err := servicedir.MakeFifodir(filepath.Join(h.dir, "event"), -1); err != nil {
		t.Fatal(err)
	}
	var err error
	if h.ev, err = servicedir.ListenFifodir(filepath.Join(h.dir, "event")); err != nil {
		t.Fatal(err)
	}
	r := reaper.New()
	stop := make(chan struct{})
	go r.Run(stop, nil)
	opts.Reaper, opts.Name = r, "svc"
	opts.Logf = func(f string, a ...any) {
		h.mu.Lock()
		h.logs = append(h.logs, fmt.Sprintf(f, a...))
		h.mu.Unlock()
	}
	h.svc, err = New(h.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	go h.svc.Run()
	t.Cleanup(func() {
		h.svc.Control("dx")
		select {
		case <-h.svc.Done():
		case <-time.After(20 * time.Second):
			t.Error("supervisor did not exit on dx")
		}
		close(stop)
		h.ev.Close()
	})
	h.waitEvents("s")
	return h
}

// waitEvents waits until the events seen so far end with the sequence want
// (in order, other events in between allowed).
func (h *harness) waitEvents(want string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	buf := make([]byte, 64)
	for {
		if containsInOrder(string(h.got), want) {
			h.got = h.got[:0]
			return
		}
		n, err := h.ev.Read(buf, deadline)
		if err != nil {
			h.t.Fatalf("waiting for events %q: got %q: %v", want, h.got, err)
		}
		h.got = append(h.got, buf[:n]...)
	}
}

func containsInOrder(got, want string) bool {
	i := 0
	for j := 0; j < len(got) && i < len(want); j++ {
		if got[j] == want[i] {
			i++
		}
	}
	return i == len(want)
}

func (h *harness) status() servicedir.Status {
	h.t.Helper()
	st, err := servicedir.ReadStatus(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) control(letters string) {
	h.t.Helper()
	f, err := os.OpenFile(filepath.Join(h.dir, "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(letters); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) logged(sub string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

const sleeper = "#!/bin/sh\nexec sleep 1000\n"

func TestLayoutAndModes(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper})
	h.waitEvents("u")
	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{
		{"supervise", os.ModeDir | 0o700},
		{"supervise/control", os.ModeNamedPipe | 0o600},
		{"supervise/lock", 0o644},
		{"supervise/status", 0o644},
		{"supervise/death_tally", 0o644},
		{"event", os.ModeDir | os.ModeSetgid | os.ModeSticky | 0o730},
	} {
		fi, err := os.Stat(filepath.Join(h.dir, tc.path))
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
	}
	st := h.status()
	if !st.Up() || !st.WantUp || st.Ready || st.Pid == 0 {
		t.Errorf("status %+v: want up, want up, not ready", st)
	}
	// The service runs in its own session.
	sid, err := syscall.Getpgid(int(st.Pid))
	if err != nil || sid != int(st.Pid) {
		t.Errorf("pgid of %d = %d, %v; want its own process group", st.Pid, sid, err)
	}
}

func TestControl(t *testing.T) {
	for _, tc := range []struct {
		name   string
		files  map[string]string
		before string // events to wait for first
		send   string
		events string
		check  func(*testing.T, servicedir.Status)
	}{
		{"down", map[string]string{"run": sleeper}, "u", "d", "dD", func(t *testing.T, st servicedir.Status) {
			if st.Up() || st.WantUp || !st.Ready {
				t.Errorf("%+v: want down, want down, down-ready", st)
			}
			if sig, ok := st.Signaled(); !ok || sig != syscall.SIGTERM {
				t.Errorf("wait status %#x: want SIGTERM", st.Wstat)
			}
		}},
		{"down then up", map[string]string{"run": sleeper}, "u", "du", "dDu", func(t *testing.T, st servicedir.Status) {
			if !st.Up() || !st.WantUp {
				t.Errorf("%+v: want up", st)
			}
		}},
		{"normally down", map[string]string{"run": sleeper, "down": ""}, "", "u", "u", func(t *testing.T, st servicedir.Status) {
			if !st.Up() {
				t.Errorf("%+v: want up after u", st)
			}
		}},
		{"once", map[string]string{"run": "#!/bin/sh\nexit 3\n", "down": ""}, "", "o", "udD", func(t *testing.T, st servicedir.Status) {
			if c, ok := st.Exited(); st.Up() || st.WantUp || !ok || c != 3 {
				t.Errorf("%+v: want down with exit code 3, not restarted", st)
			}
		}},
		{"down-signal", map[string]string{"run": "#!/bin/sh\ntrap 'kill $!; exit 7' HUP\nsleep 1000 &\necho >&3\nwait\n", "down-signal": "SIGHUP", "notification-fd": "3"}, "uU", "d", "dD", func(t *testing.T, st servicedir.Status) {
			if c, ok := st.Exited(); !ok || c != 7 {
				t.Errorf("wait status %#x: want exit 7 from the HUP trap", st.Wstat)
			}
		}},
		{"kill", map[string]string{"run": sleeper}, "u", "O" + "k", "dD", func(t *testing.T, st servicedir.Status) {
			if sig, ok := st.Signaled(); !ok || sig != syscall.SIGKILL || st.WantUp {
				t.Errorf("%+v: want killed by SIGKILL and not restarted (O)", st)
			}
		}},
		{"timeout-kill", map[string]string{"run": "#!/bin/sh\ntrap '' TERM\necho >&3\nexec sleep 1000 3>&-\n", "timeout-kill": "200", "notification-fd": "3"}, "uU", "d", "dD", func(t *testing.T, st servicedir.Status) {
			if sig, ok := st.Signaled(); !ok || sig != syscall.SIGKILL {
				t.Errorf("wait status %#x: want SIGKILL after timeout-kill", st.Wstat)
			}
		}},
		{"Q: once at most and ./down, not stopped", map[string]string{"run": sleeper}, "u", "Q", "", func(t *testing.T, st servicedir.Status) {
			if !st.Up() || st.WantUp {
				t.Errorf("%+v: want up, wanted down", st)
			}
		}},
		{"garbage then up", map[string]string{"run": sleeper, "down": ""}, "", "\x00ZZ\xff\n@u", "u", func(t *testing.T, st servicedir.Status) {
			if !st.Up() {
				t.Errorf("%+v: want up", st)
			}
		}},
		{"pause and continue", map[string]string{"run": sleeper}, "u", "p", "", func(t *testing.T, st servicedir.Status) {
			if !st.Paused {
				t.Errorf("%+v: want paused", st)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, tc.files)
			if tc.before != "" {
				h.waitEvents(tc.before)
			}
			h.control(tc.send)
			if tc.events != "" {
				h.waitEvents(tc.events)
			} else {
				// No event: wait for the status to change (paused, or
				// wanted down with ./down made).
				testutil.Poll(20*time.Second, func() bool {
					st := h.status()
					_, err := os.Stat(filepath.Join(h.dir, "down"))
					return st.Paused || err == nil && !st.WantUp
				})
			}
			tc.check(t, h.status())
		})
	}
}

func TestGarbageReported(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper, "down": ""})
	h.control("ZZZu")
	h.waitEvents("u")
	if !testutil.Poll(10*time.Second, func() bool { return h.logged("ignored 3 byte(s)") }) {
		t.Errorf("garbage not reported; logs: %q", h.logs)
	}
}

func TestReadiness(t *testing.T) {
	h := start(t, map[string]string{"run": "#!/bin/sh\necho >&5\nexec sleep 1000\n", "notification-fd": "5"})
	h.waitEvents("uU")
	st := h.status()
	if !st.Ready || !st.Up() {
		t.Errorf("%+v: want up and ready", st)
	}
	if st.ReadyStamp.Time().Before(st.Stamp.Time()) {
		t.Errorf("ready stamp %v before up stamp %v", st.ReadyStamp.Time(), st.Stamp.Time())
	}
}

func TestFinish(t *testing.T) {
	h := start(t, map[string]string{
		"run":    "#!/bin/sh\nexec sleep 1000\n",
		"finish": "#!/bin/sh\necho \"$@\" > finish.args\nexit 125\n",
	})
	h.waitEvents("u")
	pid := h.status().Pid
	h.control("t")
	h.waitEvents("dDO")
	b, err := os.ReadFile(filepath.Join(h.dir, "finish.args"))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("256 15 svc %d\n", pid)
	if string(b) != want {
		t.Errorf("finish args %q, want %q", b, want)
	}
	if st := h.status(); st.WantUp || st.Up() || st.Finishing {
		t.Errorf("%+v: after exit 125 want down, not wanted up", st)
	}
}

func TestFinishTimeout(t *testing.T) {
	h := start(t, map[string]string{
		"run":            "#!/bin/sh\nexit 0\n",
		"finish":         "#!/bin/sh\nexec sleep 1000\n",
		"timeout-finish": "300",
		"down":           "",
	})
	h.control("o")
	h.waitEvents("udD")
	if !h.logged("timeout-finish") {
		t.Errorf("finish kill not reported: %q", h.logs)
	}
}

func TestCrashLoopIsThrottled(t *testing.T) {
	h := start(t, map[string]string{"run": "#!/bin/sh\nexit 1\n", "max-death-tally": "50"})
	time.Sleep(2500 * time.Millisecond)
	b, err := os.ReadFile(filepath.Join(h.dir, "supervise", "death_tally"))
	if err != nil {
		t.Fatal(err)
	}
	deaths := len(b) / servicedir.DeathRecordSize
	// At most one spawn per second: 3 spawns (t=0, 1, 2) fit in 2.5 s.
	if deaths < 1 || deaths > 3 {
		t.Errorf("%d deaths in 2.5 s of a crash loop: want 1 to 3 (one spawn per second at most)", deaths)
	}
	if b[12] != 1 || b[13] != 0 {
		t.Errorf("death record exit code %d signal %d, want 1 0", b[12], b[13])
	}
}

func TestDeathTallyBounded(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	var tally []byte
	for i := 0; i < 10; i++ {
		if tally, err = servicedir.AppendDeath(dfd, tally, servicedir.DeathRecord(tai64nNow(), syscall.WaitStatus(i<<8)), 4); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "supervise", "death_tally"))
	if len(b) != 4*servicedir.DeathRecordSize || b[12] != 6 || b[3*servicedir.DeathRecordSize+12] != 9 {
		t.Errorf("tally %x: want the last 4 records (exit codes 6..9)", b)
	}
	if got, err := servicedir.ReadDeaths(dfd, 100); err != nil || len(got) != len(b) {
		t.Errorf("readDeaths: %d bytes, %v", len(got), err)
	}
	if got, err := servicedir.ReadDeaths(dfd, 2); err != nil || len(got) != 2*servicedir.DeathRecordSize || got[12] != 8 {
		t.Errorf("readDeaths of the newest 2: %x, %v", got, err)
	}
	// A torn tally (a crash mid-write of an older supervisor) starts
	// afresh, as s6-supervise does.
	os.WriteFile(filepath.Join(dir, "supervise", "death_tally"), append(b, 1, 2, 3), 0o644)
	if got, err := servicedir.ReadDeaths(dfd, 100); err != nil || len(got) != 0 {
		t.Errorf("readDeaths of a torn tally: %d bytes, %v", len(got), err)
	}
	// Not a regular file: an error, without blocking.
	os.Remove(filepath.Join(dir, "supervise", "death_tally"))
	unix.Mkfifo(filepath.Join(dir, "supervise", "death_tally"), 0o644)
	if _, err := servicedir.ReadDeaths(dfd, 100); err == nil || !strings.Contains(err.Error(), "FIFO") {
		t.Errorf("readDeaths of a FIFO: %v", err)
	}
}

func TestExitCommand(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper})
	h.waitEvents("u")
	h.control("x") // exit once down; the service stays up meanwhile
	time.Sleep(100 * time.Millisecond)
	select {
	case <-h.svc.Done():
		t.Fatal("supervisor exited while the service was up")
	default:
	}
	h.control("d")
	h.waitEvents("dDx")
	<-h.svc.Done()
}

func TestSpawnFailureReported(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper, "down": ""})
	os.Chmod(filepath.Join(h.dir, "run"), 0o644)
	h.control("u")
	if !testutil.Poll(10*time.Second, func() bool { return h.logged("not executable") }) {
		t.Fatalf("no report of the non-executable run: %q", h.logs)
	}
	os.Chmod(filepath.Join(h.dir, "run"), 0o755)
	h.control("u")
	h.waitEvents("u")
}

func TestCorruptStatusReplaced(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"run": sleeper, "down": ""})
	os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
	os.WriteFile(filepath.Join(dir, "supervise", "status"), []byte("garbage"), 0o644)
	os.WriteFile(filepath.Join(dir, "supervise", "control"), []byte("not a fifo"), 0o600)
	r := reaper.New()
	svc, err := New(dir, Options{Reaper: r})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { svc.Control("x"); <-svc.Done() }()
	go svc.Run()
	st, err := servicedir.ReadStatus(dir)
	if err != nil || st.Up() || st.WantUp {
		t.Errorf("status %+v, %v", st, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "supervise", "control")); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("control not replaced by a FIFO: %v", fi.Mode())
	}
}

// TestLockedByAnotherProcess holds the lock from a child process (this
// test binary re-executed) and checks that New refuses to supervise.
func TestLockedByAnotherProcess(t *testing.T) {
	if os.Getenv("SUPERVISE_TEST_HOLD_LOCK") != "" {
		f, err := os.OpenFile(os.Getenv("SUPERVISE_TEST_HOLD_LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			os.Exit(1)
		}
		lk := syscall.Flock_t{Type: syscall.F_WRLCK}
		if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("locked\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"run": sleeper})
	os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), "SUPERVISE_TEST_HOLD_LOCK="+filepath.Join(dir, "supervise", "lock"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("lock holder: %q %v", buf, err)
	}
	_, err = New(dir, Options{Reaper: reaper.New()})
	if err == nil || !strings.Contains(err.Error(), "already supervised") {
		t.Fatalf("New on a locked dir: %v, want 'already supervised'", err)
	}
}

func tai64nNow() tai64n.Stamp { return tai64n.Now() }

// TestTimersAndEnd: a timer stopped after it was armed never acts, even
// if it already fired and waits for the lock; after the end, events and
// Control are ignored without blocking.
func TestTimersAndEnd(t *testing.T) {
	h := start(t, map[string]string{"run": sleeper, "down": ""})
	s := h.svc
	s.Start() // the harness's Run may not have started it yet
	s.mu.Lock()
	s.status.WantUp = true
	s.setTimer(time.Millisecond) // would start ./run (timeout while down)
	time.Sleep(20 * time.Millisecond)
	s.stopTimer() // it fired meanwhile and waits for the lock
	s.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	st, pid := s.st, s.pid
	s.mu.Unlock()
	if st != stDown || pid != 0 {
		t.Fatalf("a stopped timer acted: state %v, pid %d", st, pid)
	}
	s.Control("x")
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("no end after x while down")
	}
	done := make(chan struct{})
	go func() {
		s.Control("u")
		s.childExited(reaper.Exit{Pid: 1})
		s.Start()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("events after the end blocked")
	}
	if _, err := os.Stat(filepath.Join(h.dir, "supervise", "status")); err != nil {
		t.Errorf("status: %v", err)
	}
	if st, err := servicedir.ReadStatus(h.dir); err != nil || st.Up() {
		t.Errorf("after the end: status %+v, %v", st, err)
	}
}
