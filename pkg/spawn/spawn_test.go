package spawn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFdMoves(t *testing.T) {
	dup := func(from, to int, cloexec bool) op {
		o := op{nr: syscall.SYS_DUP3, a1: uintptr(from), a2: uintptr(to), check: mustSucceed}
		if cloexec {
			o.a3 = syscall.O_CLOEXEC
		}
		return o
	}
	keep := func(fd int) op {
		return op{nr: syscall.SYS_FCNTL, a1: uintptr(fd), a2: syscall.F_SETFD, check: mustSucceed}
	}
	closed := func(fd int) op { return op{nr: syscall.SYS_CLOSE, a1: uintptr(fd)} }
	for _, tc := range []struct {
		name  string
		files []int
		want  []op
	}{
		{"none", nil, nil},
		{"identity", []int{0, 1, 2}, []op{keep(0), keep(1), keep(2)}},
		{"pipes up high", []int{7, 8, 2}, []op{dup(7, 0, false), dup(8, 1, false), keep(2)}},
		{"closed slot", []int{0, 1, 2, -1, 9}, []op{keep(0), keep(1), keep(2), closed(3), dup(9, 4, false)}},
		// 0 and 1 swapped: 0 would be overwritten before it is read, so
		// it is first copied above every descriptor involved (2).
		{"swap", []int{1, 0}, []op{dup(0, 2, true), dup(1, 0, false), dup(2, 1, false)}},
		{"one source twice", []int{5, 5, 5}, []op{dup(5, 0, false), dup(5, 1, false), dup(5, 2, false)}},
		{"down onto lower", []int{0, 1, 2, 1}, []op{dup(1, 4, true), keep(0), keep(1), keep(2), dup(4, 3, false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fdMoves(tc.files); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("fdMoves(%v) =\n%+v\nwant\n%+v", tc.files, got, tc.want)
			}
		})
	}
}

// child runs /bin/sh -c script through Start with the given descriptors
// (nil: a pipe as stdout, the test's stderr) and returns what it wrote.
type starter func(path string, argv []string, attr *Attr) (int, error)

func child(t *testing.T, start starter, script string, attr *Attr) (string, syscall.WaitStatus) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if attr.Files == nil {
		attr.Files = []int{0, int(w.Fd()), 2}
	}
	std := func() (ids [3]uint64) {
		for fd := range ids {
			var st syscall.Stat_t
			if syscall.Fstat(fd, &st) == nil {
				ids[fd] = st.Dev<<32 ^ st.Ino
			}
		}
		return ids
	}
	before := std()
	pid, err := start("/bin/sh", []string{"sh", "-c", script}, attr)
	w.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	// The child's descriptor moves happened in its own table.
	if after := std(); after != before {
		t.Fatalf("the parent's descriptors 0-2 changed: %v, were %v", after, before)
	}
	var out bytes.Buffer
	out.ReadFrom(r)
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	return out.String(), ws
}

// starters are Start and a Spawner's Start.
func starters(t *testing.T) map[string]starter {
	sp, err := NewSpawner()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	return map[string]starter{"Start": Start, "Spawner": sp.Start}
}

func TestStart(t *testing.T) {
	for name, start := range starters(t) {
		t.Run(name, func(t *testing.T) { testStart(t, start) })
	}
}

func testStart(t *testing.T, start starter) {
	dir := t.TempDir()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dir env argv", func(t *testing.T) {
		out, ws := child(t, start, `echo "$PWD $FOO $0"; exit 3`, &Attr{Dir: dir, Env: []string{"FOO=bar baz"}})
		if want := real + " bar baz sh\n"; out != want || ws.ExitStatus() != 3 {
			t.Errorf("got %q exit %d, want %q exit 3", out, ws.ExitStatus(), want)
		}
	})
	t.Run("setsid setpgid", func(t *testing.T) {
		// Fields 6 and 5 of /proc/self/stat: session and process group.
		script := `read -r l < /proc/self/stat; set -- ${l#*) }; echo "$4 $3"; echo $$`
		for _, tc := range []struct {
			setsid, setpgid      bool
			ownSession, ownGroup bool
		}{
			{false, false, false, false},
			{true, false, true, true},
			{false, true, false, true},
			{true, true, true, true}, // Setsid wins (setpgid would fail)
		} {
			out, _ := child(t, start, script, &Attr{Setsid: tc.setsid, Setpgid: tc.setpgid})
			f := strings.Fields(out)
			if len(f) != 3 {
				t.Fatalf("output %q", out)
			}
			// $$ is the shell; the read runs in it too (a builtin).
			if (f[0] == f[2]) != tc.ownSession || (f[1] == f[2]) != tc.ownGroup {
				t.Errorf("setsid %v setpgid %v: session %s, group %s, pid %s; want own session %v, own group %v",
					tc.setsid, tc.setpgid, f[0], f[1], f[2], tc.ownSession, tc.ownGroup)
			}
		}
	})
	t.Run("descriptors", func(t *testing.T) {
		// A notification-style descriptor 3 and a closed 4; the test's
		// other descriptors (all close-on-exec) are not inherited.
		nr, nw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer nr.Close()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// A descriptor without close-on-exec is not inherited either.
		stray, err := syscall.Dup(int(nr.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(stray)
		script := `echo ready >&3; for fd in 0 1 2 3 4 ` + strconv.Itoa(int(nr.Fd())) + ` ` + strconv.Itoa(stray) + `; do [ -e /proc/$$/fd/$fd ] && echo $fd; done`
		pid, err := start("/bin/sh", []string{"sh", "-c", script}, &Attr{Files: []int{0, int(w.Fd()), 2, int(nw.Fd()), -1}})
		w.Close()
		nw.Close()
		if err != nil {
			t.Fatal(err)
		}
		var out, note bytes.Buffer
		out.ReadFrom(r)
		note.ReadFrom(nr)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
		if note.String() != "ready\n" {
			t.Errorf("descriptor 3 got %q", note.String())
		}
		// 4 is closed; the parent's close-on-exec descriptors are not
		// inherited.
		if got := strings.Fields(out.String()); !reflect.DeepEqual(got, []string{"0", "1", "2", "3"}) {
			t.Errorf("child's descriptors among 0-4, %d and %d: %q, want 0 1 2 3", nr.Fd(), stray, got)
		}
	})
	t.Run("one descriptor twice", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// w as both 0 and 1.
		out, _ := child(t, start, `echo to-stdin >&0`, &Attr{Files: []int{int(w.Fd()), int(w.Fd()), 2}})
		w.Close()
		var got bytes.Buffer
		got.ReadFrom(r)
		if out != "" || got.String() != "to-stdin\n" {
			t.Errorf("stdout %q, pipe %q", out, got.String())
		}
	})
	t.Run("signals", func(t *testing.T) {
		// Even with handlers installed in the parent, the new program
		// starts with nothing blocked, and ignores only what the parent
		// ignores (an ignored signal is inherited across execve, as with
		// syscall.ForkExec: a test run by make may ignore signal 32).
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGHUP)
		defer signal.Stop(sigs)
		out, _ := child(t, start, `while read -r k v; do case $k in SigBlk:|SigIgn:|SigCgt:) echo "$k $v";; esac; done < /proc/self/status`, &Attr{})
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(l)
			if len(f) != 2 {
				t.Fatalf("status line %q", l)
			}
			v, err := strconv.ParseUint(f[1], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			switch f[0] {
			case "SigBlk:":
				if v != 0 {
					t.Errorf("%s %s, want none", f[0], f[1])
				}
			case "SigIgn:":
				if want := ownIgnored(t); v != want {
					t.Errorf("%s %s, want %016x (as the parent)", f[0], f[1], want)
				}
			}
		}
		if !strings.Contains(out, "SigBlk:") {
			t.Errorf("no SigBlk in %q", out)
		}
	})
}

func TestStartFails(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "run")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		attr Attr
		want error
	}{
		{"no such program", filepath.Join(dir, "nope"), Attr{}, syscall.ENOENT},
		{"not executable", notExec, Attr{}, syscall.EACCES},
		{"no such dir", "/bin/true", Attr{Dir: filepath.Join(dir, "gone")}, syscall.ENOENT},
		{"bad descriptor", "/bin/true", Attr{Files: []int{0, 1, 2, 987}}, syscall.EBADF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, err := Start(tc.path, []string{"x"}, &tc.attr)
			if !errors.Is(err, tc.want) || (tc.attr.Dir != "" && !strings.Contains(err.Error(), tc.attr.Dir)) {
				t.Fatalf("Start = %d, %v; want %v", pid, err, tc.want)
			}
			// The failed child was collected: no child is left.
			if _, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil); err != syscall.ECHILD {
				t.Errorf("a child is left after the failure (wait4: %v)", err)
			}
		})
	}
	if _, err := Start("/bin/true", nil, nil); err == nil {
		t.Error("empty argv accepted")
	}
}

// TestConcurrent starts many children from many goroutines, half of them
// through one Spawner's shared slot sets, while the process is being
// sent a signal it catches: every child runs and writes into its own
// pipe, and the parent still receives the signal. (That a signal is never
// seen by the parent through a child is argued in resetSignals, not
// proved here: the window is a few instructions wide.)
func TestConcurrent(t *testing.T) {
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	var sent int
	var sendWG sync.WaitGroup
	sendWG.Add(1)
	go func() {
		defer sendWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			syscall.Kill(os.Getpid(), syscall.SIGUSR1)
			sent++
			time.Sleep(time.Millisecond)
		}
	}()
	sp, err := NewSpawner()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	const workers, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// Through the Spawner (its slot sets shared by the
				// workers) with a pipe of this worker's as stdout, or
				// through Start.
				r, pw, err := os.Pipe()
				if err != nil {
					errs <- err
					continue
				}
				start, msg := Start, ""
				if i%2 == 0 {
					start, msg = sp.Start, strconv.Itoa(w)+"."+strconv.Itoa(i)
				}
				pid, err := start("/bin/echo", []string{"echo", "-n", msg}, &Attr{Setsid: true, Files: []int{0, int(pw.Fd()), 2}})
				pw.Close()
				if err != nil {
					r.Close()
					errs <- err
					continue
				}
				out, _ := io.ReadAll(r)
				r.Close()
				if string(out) != msg {
					errs <- errors.New("child " + msg + " wrote " + string(out))
				}
				var ws syscall.WaitStatus
				if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
					errs <- errors.New("child: " + ws.Signal().String())
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	sendWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	time.Sleep(50 * time.Millisecond)
	got := len(sigs)
	if got == 0 || got > sent {
		t.Errorf("parent received %d SIGUSR1, sent %d", got, sent)
	}
}

// TestSpawnerSlots: with many descriptors open, a child through a
// Spawner gets its descriptors from the slots, and the slots let go of
// them afterwards (the reader of a pipe given to a child sees its end
// once the child exits).
func TestSpawnerSlots(t *testing.T) {
	sp, err := NewSpawner()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := 0; i < 300; i++ {
		fd, err := syscall.Open("/", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
	}
	// A directory named through a descriptor above the slots, as a
	// supervisor names a service directory.
	dir := t.TempDir()
	dfd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(dfd)
	if dfd < sp.k {
		t.Fatalf("directory descriptor %d below the slots (%v)", dfd, sp.all)
	}
	if err := os.WriteFile(filepath.Join(dir, "run"), []byte("#!/bin/sh\necho in $PWD\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if out, _ := child(t, sp.Start, `./run`, &Attr{Dir: "/proc/self/fd/" + strconv.Itoa(dfd)}); out != "in "+real+"\n" {
		t.Errorf("run in /proc/self/fd/%d said %q, want in %s", dfd, out, real)
	}
	var rs, ws []*os.File
	for i := 0; i < slotCount+1; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rs, ws = append(rs, r), append(ws, w)
	}
	for _, n := range []int{1, slotCount, slotCount + 1} {
		// The child writes its descriptor number into each of n pipes
		// given as 3, 4, ...; slotCount+1 is more than the slots hold
		// (the whole table is copied then).
		files := []int{0, 1, 2}
		script := ""
		for i := 0; i < n; i++ {
			files = append(files, int(ws[i].Fd()))
			script += "echo " + strconv.Itoa(3+i) + " >&" + strconv.Itoa(3+i) + "; "
		}
		pid, err := sp.Start("/bin/sh", []string{"sh", "-c", script}, &Attr{Files: files})
		if err != nil {
			t.Fatalf("%d pipes: %v", n, err)
		}
		for _, fd := range sp.all {
			if l, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err != nil || l != "/" {
				t.Errorf("slot %d holds %q after the spawn (%v), want /", fd, l, err)
			}
		}
		var st syscall.WaitStatus
		syscall.Wait4(pid, &st, 0, nil)
		for i := 0; i < n; i++ {
			// A pipe read end reads what was written, then (the writers
			// gone: the child, and the test's own copy closed below for
			// the last round) would block; read with a byte count.
			buf := make([]byte, 8)
			k, err := rs[i].Read(buf)
			if err != nil || string(buf[:k]) != strconv.Itoa(3+i)+"\n" {
				t.Errorf("%d pipes: pipe %d read %q, %v", n, i, buf[:k], err)
			}
		}
	}
	// Last: only the child and the slots could hold the write end; with
	// the test's copy closed, the reader sees the end.
	ws[0].Close()
	pid, err := sp.Start("/bin/true", []string{"true"}, &Attr{Files: []int{0, 1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.WaitStatus
	syscall.Wait4(pid, &st, 0, nil)
	rs[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if k, err := rs[0].Read(make([]byte, 8)); err != io.EOF {
		t.Errorf("pipe 0 after its writers closed: read %d, %v; want EOF", k, err)
	}
}

// ownIgnored is the test process's own SigIgn mask.
func ownIgnored(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no SigIgn in /proc/self/status")
	return 0
}

// TestNoFile: a child gets the RLIMIT_NOFILE its Attr names, not the one
// the Go runtime raised for the parent.
func TestNoFile(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 200 {
		t.Fatalf("hard RLIMIT_NOFILE %d: the test needs 200", lim.Max)
	}
	for name, start := range starters(t) {
		t.Run(name, func(t *testing.T) {
			want := unix.Rlimit{Cur: 100, Max: 200}
			out, ws := child(t, start, "ulimit -Sn; ulimit -Hn", &Attr{NoFile: &want})
			if !ws.Exited() || ws.ExitStatus() != 0 || out != "100\n200\n" {
				t.Errorf("child's limits: %q (%v), want 100 and 200", out, ws)
			}
			// Without NoFile the child has the parent's.
			out, _ = child(t, start, "ulimit -Hn", &Attr{})
			if out != strconv.FormatUint(lim.Max, 10)+"\n" {
				t.Errorf("child's hard limit without NoFile: %q, want %d", out, lim.Max)
			}
		})
	}
}
