package supervise

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/reaper"
	"github.com/svinit/svinit/pkg/servicedir"
	"golang.org/x/sys/unix"
)

// hostileKinds are what a broken or hostile service directory may hold
// in place of a file its supervisor reads or makes.
var hostileKinds = []struct {
	name  string
	plant func(t *testing.T, path string)
}{
	{"fifo", func(t *testing.T, p string) { must(t, unix.Mkfifo(p, 0o644)) }},
	{"dev-zero", func(t *testing.T, p string) { must(t, os.Symlink("/dev/zero", p)) }},
	{"directory", func(t *testing.T, p string) { must(t, os.Mkdir(p, 0o755)) }},
	{"dangling", func(t *testing.T, p string) { must(t, os.Symlink("nowhere/at/all", p)) }},
	{"huge", func(t *testing.T, p string) {
		// 4 GiB of zeros (sparse), no newline.
		f, err := os.Create(p)
		must(t, err)
		defer f.Close()
		must(t, f.Truncate(4<<30))
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// member is one service of a process-wide test supervision tree.
type member struct {
	t    *testing.T
	name string
	dir  string
	svc  *Service
	ev   *servicedir.Listener
	got  []byte
	// deadline bounds every wait of the test together: a blocked
	// goroutine makes them fail, not add up.
	deadline time.Time
	mu       sync.Mutex
	logs     []string
}

func (m *member) logf(f string, a ...any) {
	m.mu.Lock()
	m.logs = append(m.logs, fmt.Sprintf(f, a...))
	m.mu.Unlock()
}

func (m *member) logged(sub string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.logs {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// wait waits for the events want, in order (see harness.waitEvents).
func (m *member) wait(want string) error {
	buf := make([]byte, 64)
	for !containsInOrder(string(m.got), want) {
		n, err := m.ev.Read(buf, m.deadline)
		if err != nil {
			return fmt.Errorf("%s: waiting for events %q: got %q: %v", m.name, want, m.got, err)
		}
		m.got = append(m.got, buf[:n]...)
	}
	m.got = m.got[:0]
	return nil
}

// TestHostileServiceDirs puts each hostile kind in place of every file a
// service directory may hold, and of the files the supervisor makes in
// supervise/, in services supervised by one process (one reaper, one
// control poller, as in svscan). Each is driven through every point
// where its supervisor reads the directory (start, 'd', death, restart)
// while another service of the same process is killed again and again:
// it must be restarted each time, so nothing blocked the shared
// goroutines. Each hostile service either runs with the defaults, or
// stays down and says why naming the file, or is refused at once by New
// naming the file.
func TestHostileServiceDirs(t *testing.T) {
	r := reaper.New()
	stop := make(chan struct{})
	defer close(stop)
	go r.Run(stop, nil)
	poller, err := NewControlPoller()
	must(t, err)
	go poller.Run()
	defer poller.Close()

	var all []*member
	deadline := time.Now().Add(90 * time.Second)
	newMember := func(name, dir string) (*member, error) {
		m := &member{t: t, name: name, dir: dir, deadline: deadline}
		ev := filepath.Join(dir, "event")
		if fi, err := os.Lstat(ev); err == nil && fi.IsDir() || os.IsNotExist(err) {
			// A listener from the start (the supervisor keeps event/).
			if os.IsNotExist(err) {
				must(t, servicedir.MakeFifodir(ev, -1))
			}
			if m.ev, err = servicedir.ListenFifodir(ev); err != nil {
				t.Fatal(err)
			}
		}
		m.svc, err = New(dir, Options{Reaper: r, Poller: poller, Name: name, Logf: m.logf})
		if err != nil {
			if m.ev != nil {
				m.ev.Close()
			}
			return nil, err
		}
		all = append(all, m)
		// Not on this goroutine: if reading the directory blocked, the
		// waits below would say so.
		go m.svc.Start()
		return m, nil
	}
	defer func() {
		for _, m := range all {
			go m.svc.Control("dx")
		}
		deadline := time.After(time.Minute)
		for _, m := range all {
			select {
			case <-m.svc.Done():
			case <-deadline:
				t.Fatalf("%s: supervisor did not exit on dx", m.name)
			}
			m.ev.Close()
		}
	}()

	// The bystander.
	bdir := t.TempDir()
	writeFiles(t, bdir, map[string]string{"run": sleeper})
	b, err := newMember("bystander", bdir)
	must(t, err)
	must(t, b.wait("u"))

	type outcome int
	const (
		runs    outcome = iota // started, stopped and restarted
		down                   // never started; a message names the file
		refused                // New fails naming the file
	)
	names := []string{"run", "finish", "down", "notification-fd", "lock-fd", "timeout-kill", "timeout-finish",
		"max-death-tally", "down-signal", "log", "env", "data", "event", "supervise",
		"supervise/lock", "supervise/control", "supervise/status", "supervise/status.new", "supervise/death_tally",
		"supervise/service-lock"}
	type hcase struct {
		m    *member
		name string
		kind string
		want outcome
		say  string // a message containing this (with the file's path)
	}
	var cases []*hcase
	for _, name := range names {
		for _, k := range hostileKinds {
			c := &hcase{name: name, kind: k.name}
			dir := t.TempDir()
			files := map[string]string{"run": sleeper, "timeout-kill": "5000", "down-signal": "TERM"}
			if name == "supervise/service-lock" {
				files["lock-fd"] = "9"
			}
			writeFiles(t, dir, files)
			os.Remove(filepath.Join(dir, name))
			os.Mkdir(filepath.Join(dir, "supervise"), 0o700)
			if name == "supervise" {
				os.Remove(filepath.Join(dir, "supervise"))
			}
			k.plant(t, filepath.Join(dir, name))
			path := filepath.Join(dir, name)
			switch name {
			case "run":
				c.want, c.say = down, path
			case "down":
				if k.name != "dangling" {
					c.want = down
				}
			case "notification-fd", "lock-fd", "timeout-kill", "timeout-finish", "max-death-tally", "down-signal":
				if k.name != "dangling" {
					c.say = path
				}
			case "event", "supervise":
				if k.name != "directory" {
					c.want, c.say = refused, name
				}
			case "supervise/lock":
				if k.name != "huge" {
					c.want, c.say = refused, name
				}
			case "supervise/status":
				if k.name == "directory" {
					c.want, c.say = refused, name
				}
			case "supervise/death_tally":
				if k.name == "directory" {
					c.say = "death_tally"
				}
			case "supervise/service-lock":
				if k.name != "huge" {
					c.want, c.say = down, "service-lock"
				} else {
					c.say = "service-lock: a previous instance"
				}
			}
			start := time.Now()
			m, err := newMember(name+"/"+k.name, dir)
			if time.Since(start) > 10*time.Second {
				t.Errorf("%s/%s: New took %v", name, k.name, time.Since(start))
			}
			if c.want == refused {
				if err == nil || !strings.Contains(err.Error(), c.say) {
					t.Errorf("%s/%s: New: %v, want an error naming %s", name, k.name, err, c.say)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s/%s: New: %v", name, k.name, err)
				continue
			}
			c.m = m
			cases = append(cases, c)
		}
	}

	// Meanwhile, stop and start the bystander through its control FIFO
	// (the poller's goroutine) and kill it (the reaper's), again and
	// again: it must come back each time.
	bdone := make(chan error, 1)
	go func() {
		for i := 0; i < 3; i++ {
			if err := fifoControl(bdir, "d"); err != nil {
				bdone <- err
				return
			}
			if err := b.wait("dD"); err != nil {
				bdone <- err
				return
			}
			if err := fifoControl(bdir, "u"); err != nil {
				bdone <- err
				return
			}
			if err := b.wait("u"); err != nil {
				bdone <- err
				return
			}
			st, err := servicedir.ReadStatus(bdir)
			if err != nil {
				bdone <- err
				return
			}
			syscall.Kill(int(st.Pid), syscall.SIGKILL)
			if err := b.wait("du"); err != nil {
				bdone <- err
				return
			}
		}
		bdone <- nil
	}()

	for _, c := range cases {
		if c.want != runs {
			continue
		}
		// Started, read everything; 'd' reads down-signal and
		// timeout-kill, the death reads max-death-tally and
		// timeout-finish; 'u' starts it again, reading all.
		if err := c.m.wait("u"); err != nil {
			t.Error(err)
			continue
		}
		if err := fifoControl(c.m.dir, "d"); err != nil {
			t.Error(err)
			continue
		}
		if err := c.m.wait("dD"); err != nil {
			t.Error(err)
			continue
		}
		if err := fifoControl(c.m.dir, "u"); err != nil {
			t.Error(err)
			continue
		}
		if err := c.m.wait("u"); err != nil {
			t.Error(err)
		}
	}
	if err := <-bdone; err != nil {
		t.Fatalf("the bystander was not restarted: %v", err)
	}
	for _, c := range cases {
		if c.want == down {
			st, err := servicedir.ReadStatus(c.m.dir)
			if err != nil || st.Pid != 0 {
				t.Errorf("%s/%s: status %+v, %v: want down", c.name, c.kind, st, err)
			}
		}
		if c.say != "" && !c.m.logged(c.say) {
			t.Errorf("%s/%s: no message naming %s: %q", c.name, c.kind, c.say, c.m.logs)
		}
	}
}

// fifoControl writes letters to dir's supervise/control, as svc does.
func fifoControl(dir, letters string) error {
	f, err := os.OpenFile(filepath.Join(dir, "supervise", "control"), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(letters)
	return err
}
