package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/cli"
)

// The test binary doubles as svlog when this variable is set, so the
// tests can run real svlog processes without building anything.
const selfEnv = "SVLOG_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(selfEnv) == "1" {
		cli.Main("svlog", run)
		return
	}
	os.Exit(m.Run())
}

func svlogCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), selfEnv+"=1")
	return cmd
}

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: %v (apt-get install s6 execline, or run make test as root)", name, err)
	}
	return p
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"svlog"}, 100, "usage"},
		{[]string{"svlog", "-x", "1"}, 100, "unknown option -x"},
		{[]string{"svlog", "-l"}, 100, "needs an argument"},
		{[]string{"svlog", "-d", "1", "1"}, 100, "3 or more"},
		{[]string{"svlog", "-d", "99", "1"}, 100, "invalid notification fd"},
		{[]string{"svlog", "n5"}, 100, "no action directive"},
		{[]string{"svlog", "--", "-(", "1"}, 100, "invalid regular expression"},
		{[]string{"svlog", "zz"}, 100, "unrecognized directive: zz"},
	} {
		var stderr bytes.Buffer
		err := run(tc.args, os.Stdin, io.Discard, &stderr)
		code := cli.Report(&stderr, "svlog", err)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: code %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}

// pipeLogger starts svlog reading from a pipe the test holds both ends
// of, as the scanner does.
type pipeLogger struct {
	r, w *os.File
}

func newPipe(t *testing.T) *pipeLogger {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return &pipeLogger{r, w}
}

func (p *pipeLogger) start(t *testing.T, stderr io.Writer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := svlogCmd(t, args...)
	cmd.Stdin = p.r
	cmd.Stderr = stderr
	// Readiness: -d3 on a pipe.
	nr, nw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{nw}
	cmd.Args = append([]string{cmd.Args[0], "-d3"}, cmd.Args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Never leave a logger behind a failed test (it would wait for its
	// input or retry a vanished directory forever).
	t.Cleanup(func() { cmd.Process.Kill() })
	nw.Close()
	b, _ := io.ReadAll(nr)
	nr.Close()
	if string(b) != "\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("readiness notification = %q, want \"\\n\" (stderr: %v)", b, stderr)
	}
	return cmd
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			if ws := ee.Sys().(syscall.WaitStatus); ws.Signaled() {
				return -int(ws.Signal())
			}
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("svlog did not exit within 60s")
	}
	return -1
}

func archives(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "@*.[su]"))
	sort.Strings(m)
	return m
}

func readLog(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, a := range append(archives(t, dir), filepath.Join(dir, "current")) {
		x, err := os.ReadFile(a)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		b.Write(x)
	}
	return b.String()
}

func TestSignals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	p := newPipe(t)
	var stderr bytes.Buffer
	cmd := p.start(t, &stderr, "-p", dir)
	p.w.WriteString("one\n")
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { b, _ := os.ReadFile(filepath.Join(dir, "current")); return string(b) == "one\n" }, nil)

	// SIGALRM rotates.
	cmd.Process.Signal(syscall.SIGALRM)
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { return len(archives(t, dir)) == 1 }, nil)
	if a := archives(t, dir)[0]; !strings.HasSuffix(a, ".s") {
		t.Errorf("archive %s", a)
	}
	// -p: TERM ignored.
	p.w.WriteString("two\npart")
	cmd.Process.Signal(syscall.SIGTERM)
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { b, _ := os.ReadFile(filepath.Join(dir, "current")); return string(b) == "two\n" }, nil)
	// HUP: svlog stops. The partial line is still in the pipe (svlog
	// leaves incomplete lines there for a while), whole, for the next
	// logger.
	cmd.Process.Signal(syscall.SIGHUP)
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	p.w.WriteString("ial\nleft in pipe\n")
	if got := readLog(t, dir); got != "one\ntwo\n" {
		t.Errorf("log = %q", got)
	}
	fi, _ := os.Stat(filepath.Join(dir, "current"))
	if fi.Mode().Perm() != 0o744 {
		t.Errorf("current mode %o after exit, want 744", fi.Mode().Perm())
	}
	br := bufio.NewReader(p.r)
	for _, want := range []string{"partial\n", "left in pipe\n"} {
		if l, _ := br.ReadString('\n'); l != want {
			t.Errorf("pipe holds %q, want %q", l, want)
		}
	}
}

// lineFor is the test's numbered line i.
func lineFor(i int) string {
	return fmt.Sprintf("%07d %s\n", i, "the quick brown fox jumps over the lazy dog 0123456789")
}

// TestKillRestart writes 200,000 numbered lines through svlog while it
// is stopped 10 times at random moments and restarted, reading from a
// pipe whose ends the test holds, as the scanner does.
//
// SIGTERM: every line appears exactly once, in order, intact.
//
// SIGKILL: svlog peeks at the pipe (tee) and consumes lines only once
// they are written, so a kill loses at most the beginning of one line
// (a partial line svlog had already taken out of the pipe; its tail is
// logged as a fragment), and may log again the lines of the batch being
// written when the kill landed (a write interrupted midway also leaves a
// fragment). Lines never go backwards except for such a replay.
func TestKillRestart(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) { killRestart(t, sig) })
	}
}

func killRestart(t *testing.T, sig syscall.Signal) {
	const total, kills = 200000, 10
	dir := filepath.Join(t.TempDir(), "log")
	p := newPipe(t)
	var stderr bytes.Buffer
	args := []string{"t", "s1000000", "n1000", dir}

	writerDone := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(p.w, 4096)
		for i := 1; i <= total; i++ {
			bw.WriteString(lineFor(i))
			if i%500 == 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
		writerDone <- bw.Flush()
	}()

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for k := 0; k < kills; k++ {
		cmd := p.start(t, &stderr, args...)
		time.Sleep(time.Duration(rng.Intn(40)+1) * time.Millisecond)
		cmd.Process.Signal(sig)
		code := waitExit(t, cmd)
		if sig == syscall.SIGTERM && code != 0 {
			t.Fatalf("exit %d after SIGTERM; stderr %q", code, stderr.String())
		}
	}
	cmd := p.start(t, &stderr, args...)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	p.w.Close()
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("final exit %d; stderr %q", code, stderr.String())
	}

	data := readLog(t, dir)
	lines := strings.Split(strings.TrimSuffix(data, "\n"), "\n")
	c := testutil.NewLines(total, sig == syscall.SIGTERM)
	for _, l := range lines {
		var body string
		if len(l) >= 26 && l[0] == '@' && l[25] == ' ' {
			body = l[26:] + "\n"
		}
		n, err := strconv.Atoi(strings.SplitN(body, " ", 2)[0])
		if err != nil || n < 1 || n > total || body != lineFor(n) {
			n = -1
		}
		if err := c.Add(n); err != nil {
			t.Fatalf("%v: %q", err, l)
		}
	}
	if err := c.Bounded(kills); err != nil {
		t.Error(err)
	}
	lost, replays, replayed, fragments := c.Lost(), c.Replays, c.Replayed, c.Fragments
	var u int
	for _, a := range archives(t, dir) {
		if strings.HasSuffix(a, ".u") {
			u++
		}
	}
	t.Logf("%s: %d lines logged, %d lost, %d replays (%d lines logged twice), %d fragments, %d archives (%d .u)",
		sig, len(lines), lost, replays, replayed, fragments, len(archives(t, dir)), u)
	if sig == syscall.SIGTERM && u != 0 {
		t.Errorf("%d .u archives after SIGTERM stops, want 0", u)
	}
}

func TestLockedBySomeoneElse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	p := newPipe(t)
	var stderr bytes.Buffer
	cmd := p.start(t, &stderr, dir)
	cmd2 := svlogCmd(t, dir)
	cmd2.Stdin = p.r
	out, err := cmd2.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 111 || !strings.Contains(string(out), "another logger") {
		t.Errorf("second svlog on the same dir: %v, %q", err, out)
	}
	p.w.Close()
	waitExit(t, cmd)
}

// TestCompatS6Log compares svlog with Debian's s6-log on the same input.
func TestCompatS6Log(t *testing.T) {
	s6log := needTool(t, "s6-log")
	in := "alpha one\nbeta two\n\ngamma three\nalpha four\nfatal: something bad happened here\n" +
		strings.Repeat("z", 9000) + "\nx\x00y\n"
	for _, script := range [][]string{
		{"1"},
		{"--", "-^alpha", "1"},
		{"--", "-.*", "+^alpha", "pP:", "1", "f", "1"},
		{"--", "-.*", "+beta", "1", "+gamma", "1"},
		{"--", "-.*", "+[[:digit:]]|one", "1"},
		{"-l", "100", "1"},
		{"-l", "0", "1"},
		{"E10", "2", "1"},
	} {
		runOne := func(prog string, args []string) (string, string) {
			var cmd *exec.Cmd
			if prog == "" {
				cmd = svlogCmd(t, args...)
			} else {
				cmd = exec.Command(prog, args...)
			}
			cmd.Stdin = strings.NewReader(in)
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s %q: %v (%s)", prog, args, err, e.String())
			}
			return o.String(), strings.ReplaceAll(e.String(), "s6-log:", "svlog:")
		}
		wo, we := runOne(s6log, script)
		go_, ge := runOne("", script)
		if wo != go_ || we != ge {
			t.Errorf("script %q:\n s6-log: %q %q\n svlog:  %q %q", script, wo, we, go_, ge)
		}
	}
}

// TestCompatScripts runs Debian's s6-log and svlog on the same scripts
// and input: both must accept or reject each script (exit 0 or 100) and
// print the same lines on stdout.
func TestCompatScripts(t *testing.T) {
	s6log := needTool(t, "s6-log")
	for _, script := range []string{
		"1", "n5", "+x", "n5 +x", "1 +x", "1 n5", "1 f", "t t 1", "t 1 1 T 1 t T 1 pA 1 1 p 1",
		"n05 1", "n5x 1", "n+5 1", "n-1 1", "n0x10 1", "n4294967295 1", "n4294967296 1",
		"s0 1", "s1 1", "s4294967295 1", "s5000x 1", "S18446744073709551615 1", "S18446744073709551616 1", "S5x 1",
		"E2147483648 1", "E4294967295 1", "E4294967296 1", "E5x 1", "^5x 1", "^4294967296 1",
		"r2147483647 1", "r2147483648 1", "r5x 1", "l0 1", "l5x 1",
		"s4096 l2048 1", "s4096 l2049 1", "s100 l2049 1", "l3000 s4096 1", "l49999 1", "l50000 1",
		"r 1", "E 1", "^ 1", "S 1", "n 1", "s 1", "l 1", "p 1", "! 1", "!cat 1", "? 1", "?cat 1",
		"12", "1x", "2x", "= 1", "fx 1", "tt 1", "TT 1", "x 1", "f 1",
		"-.* +^b 1", "-^a 1", "+( 1",
	} {
		args := strings.Fields(script)
		runOne := func(cmd *exec.Cmd) (int, string) {
			cmd.Stdin = strings.NewReader("a\nb\n")
			var o bytes.Buffer
			cmd.Stdout = &o
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			// Stamps differ: keep the line after them.
			var lines []string
			for _, l := range strings.SplitAfter(o.String(), "\n") {
				pre := ""
				if len(l) > 26 && l[0] == '@' {
					pre, l = "@ ", l[26:]
				}
				if len(l) > 31 && l[4] == '-' && l[10] == ' ' {
					pre, l = pre+"T ", l[31:]
				}
				lines = append(lines, pre+l)
			}
			return code, strings.Join(lines, "")
		}
		wc, wo := runOne(exec.Command(s6log, args...))
		gc, gout := runOne(svlogCmd(t, args...))
		if wc != gc || wo != gout {
			t.Errorf("script %q: s6-log exits %d with %q, svlog %d with %q", script, wc, wo, gc, gout)
		}
	}
}

// TestCompatLogdir hands one log directory back and forth between svlog
// and s6-log, clean exits and crashes included.
func TestCompatLogdir(t *testing.T) {
	s6log := needTool(t, "s6-log")
	dir := filepath.Join(t.TempDir(), "log")
	feed := func(prog string, in string) {
		var cmd *exec.Cmd
		if prog == "" {
			cmd = svlogCmd(t, "s4096", dir)
		} else {
			cmd = exec.Command(prog, "s4096", dir)
		}
		cmd.Stdin = strings.NewReader(in)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", prog, err, out)
		}
	}
	var want strings.Builder
	for i, prog := range []string{"", s6log, "", s6log} {
		var b strings.Builder
		for j := 0; j < 100; j++ {
			fmt.Fprintf(&b, "%d-%d %s\n", i, j, strings.Repeat("w", 40))
		}
		feed(prog, b.String())
		want.WriteString(b.String())
	}
	if got := readLog(t, dir); got != want.String() {
		t.Errorf("log after alternating loggers differs (%d vs %d bytes)", len(got), want.Len())
	}
	// A crashed s6-log: svlog archives its current as .u.
	p := newPipe(t)
	c := exec.Command(s6log, dir)
	c.Stdin = p.r
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	p.w.WriteString("crash\n")
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "current"))
		return strings.HasSuffix(string(b), "crash\n")
	}, nil)
	c.Process.Kill()
	c.Wait()
	feed("", "after\n")
	arcs := archives(t, dir)
	if last := arcs[len(arcs)-1]; !strings.HasSuffix(last, ".u") {
		t.Errorf("newest archive %s, want a .u", last)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "current")); string(b) != "after\n" {
		t.Errorf("current = %q", b)
	}
}

// TestDiskFull fills a small tmpfs, checks that svlog reports the error,
// keeps every line (blocking its input meanwhile with -b), and resumes
// once there is room again.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to mount a small tmpfs: run the tests as root")
	}
	mnt := t.TempDir()
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=256k"); err != nil {
		t.Fatalf("cannot mount a tmpfs as root: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	dir := filepath.Join(mnt, "log")
	filler := filepath.Join(mnt, "filler")
	// Leave about 8 KiB free.
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	if err := os.Truncate(filler, mustSize(t, filler)-8192); err != nil {
		t.Fatal(err)
	}

	p := newPipe(t)
	stderr := &syncBuffer{}
	cmd := p.start(t, stderr, "-b", "s4096", "n2", "r20", dir)
	var want strings.Builder
	for i := 1; i <= 2000; i++ {
		want.WriteString(lineFor(i))
	}
	go func() {
		p.w.WriteString(want.String())
		p.w.Close()
	}()
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { return strings.Contains(stderr.String(), "no space left on device") }, stderr.String)
	// Make room; svlog must resume and finish.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d; stderr %q", code, stderr.String())
	}
	// n2 keeps only the last archives: check what is there is the exact
	// tail of the input, in order, without gaps or duplicates.
	got := readLog(t, dir)
	if !strings.HasSuffix(want.String(), got) || len(got) == 0 {
		t.Errorf("log (%d bytes) is not the tail of the input", len(got))
	}
	if !strings.HasSuffix(got, lineFor(2000)) {
		t.Errorf("last line missing")
	}
	t.Logf("stderr: %.300s", stderr.String())
}

func mustSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// syncBuffer is a bytes.Buffer safe for a writer process and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUnwritableDir takes the write permission on the log directory
// away from a running svlog (run as nobody: root ignores permissions):
// its rotations fail, which it reports and retries while holding its
// input (-b); current keeps only whole lines of the input, in order; once
// the directory is writable again, everything gets logged, once.
func TestUnwritableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root to run svlog as nobody: run the tests as root")
	}
	const nobody = 65534
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The test binary may live in a directory nobody cannot enter.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "svlog")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "log")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}

	p := newPipe(t)
	stderr := &syncBuffer{}
	cmd := exec.Command(bin, "-b", "s4096", "n100", "r20", dir)
	cmd.Env = append(os.Environ(), selfEnv+"=1")
	cmd.Stdin, cmd.Stderr = p.r, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	var want strings.Builder
	for i := 1; i <= 20; i++ {
		want.WriteString(lineFor(i))
	}
	p.w.WriteString(want.String())
	cur := filepath.Join(dir, "current")
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { b, _ := os.ReadFile(cur); return string(b) == want.String() }, stderr.String)

	// Read-only directory: current can still grow, rotations cannot.
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		var more strings.Builder
		for i := 21; i <= 2000; i++ {
			more.WriteString(lineFor(i))
		}
		_, err := p.w.WriteString(more.String())
		wrote <- err
	}()
	for i := 21; i <= 2000; i++ {
		want.WriteString(lineFor(i))
	}
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { return strings.Contains(stderr.String(), "permission denied") }, stderr.String)
	// Let it retry a few times, then check that current holds a prefix of
	// the input in whole lines, and no archive was made meanwhile.
	testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { return strings.Count(stderr.String(), "permission denied") >= 3 }, stderr.String)
	b, err := os.ReadFile(cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 || b[len(b)-1] != '\n' || !strings.HasPrefix(want.String(), string(b)) {
		t.Errorf("current while the directory is read-only (%d bytes) is not whole lines of the input", len(b))
	}
	if a := archives(t, dir); len(a) != 0 {
		t.Errorf("archives made in a read-only directory: %v", a)
	}
	if !strings.Contains(stderr.String(), "rename "+cur) {
		t.Errorf("stderr does not name the failed step and file: %q", stderr.String())
	}

	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	p.w.Close()
	if code := waitExit(t, cmd); code != 0 {
		t.Fatalf("exit %d; stderr %.500q", code, stderr.String())
	}
	if got := readLog(t, dir); got != want.String() {
		t.Errorf("log after the directory came back (%d bytes) differs from the input (%d bytes)", len(got), want.Len())
	}
	for _, a := range archives(t, dir) {
		if !strings.HasSuffix(a, ".s") {
			t.Errorf("archive %s is not .s", a)
		}
	}
	t.Logf("stderr: %.200s", stderr.String())
}

// TestCompatStatusAlerts compares svlog's status files (=, ^) and alerts
// (2, E) with Debian's s6-log's on the same script and input.
func TestCompatStatusAlerts(t *testing.T) {
	s6log := needTool(t, "s6-log")
	in := "hello world\n0123456789\n0123456789abc\n0123456789abcd\nsecond line, a longer one for the alerts\n"
	script := func(dir string) []string {
		return []string{"^5", "=" + dir + "/st1", "^20", "=" + dir + "/st2", "^0", "=" + dir + "/st3", "=" + dir + "/st4",
			"pPFX", "^30", "=" + dir + "/st5", "p", "E10", "2", "E0", "2", "E3", "2", "pP", "E5", "2"}
	}
	run := func(cmd *exec.Cmd) string {
		cmd.Stdin = strings.NewReader(in)
		var e bytes.Buffer
		cmd.Stderr = &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v: %v %s", cmd.Args, err, e.String())
		}
		return strings.ReplaceAll(e.String(), "s6-log: ", "svlog: ")
	}
	d1, d2 := t.TempDir(), t.TempDir()
	we := run(exec.Command(s6log, script(d1)...))
	ge := run(svlogCmd(t, script(d2)...))
	if we != ge {
		t.Errorf("alerts differ:\n s6-log: %q\n svlog:  %q", we, ge)
	}
	for _, f := range []string{"st1", "st2", "st3", "st4", "st5"} {
		w, err1 := os.ReadFile(filepath.Join(d1, f))
		g, err2 := os.ReadFile(filepath.Join(d2, f))
		if err1 != nil || err2 != nil || !bytes.Equal(w, g) {
			t.Errorf("status file %s: s6-log %q (%v), svlog %q (%v)", f, w, err1, g, err2)
		}
	}
	if ents, _ := os.ReadDir(d2); len(ents) != 5 {
		t.Errorf("svlog left %d files, want the 5 status files", len(ents))
	}
}

// TestBlockingMode: while a log directory cannot be written (here: its
// processor has not finished), svlog -b leaves its input in the pipe,
// and svlog without -b keeps reading it into memory. Either way every
// line is logged once the processor is done.
func TestBlockingMode(t *testing.T) {
	for _, block := range []bool{true, false} {
		t.Run(fmt.Sprintf("b=%v", block), func(t *testing.T) {
			base := t.TempDir()
			dir, gate := filepath.Join(base, "log"), filepath.Join(base, "gate")
			p := newPipe(t)
			stderr := &syncBuffer{}
			args := []string{"s4096", "?while [ ! -e " + gate + " ]; do sleep 0.01; done; cat", dir}
			if block {
				args = append([]string{"-b"}, args...)
			}
			cmd := p.start(t, stderr, args...)
			var want strings.Builder
			for i := 1; i <= 40; i++ { // 2480 bytes: a rotation (l2000 of s4096)
				want.WriteString(lineFor(i))
			}
			p.w.WriteString(want.String())
			testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { _, err := os.Stat(filepath.Join(dir, "processed")); return err == nil }, stderr.String)
			var more strings.Builder
			for i := 41; i <= 60; i++ {
				more.WriteString(lineFor(i))
			}
			p.w.WriteString(more.String())
			want.WriteString(more.String())
			inPipe := func() int {
				n, err := unix.IoctlGetInt(int(p.r.Fd()), unix.TIOCINQ) // FIONREAD
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if block {
				// Give svlog time to (wrongly) take the input, then check
				// it is all still there.
				time.Sleep(200 * time.Millisecond)
				// Everything not in previous yet (the end of the first batch
				// and the second one) must still be in the pipe.
				written := mustSize(t, filepath.Join(dir, "previous")) + mustSize(t, filepath.Join(dir, "current"))
				if n := inPipe(); int64(n) != int64(want.Len())-written {
					t.Errorf("-b: %d bytes left in the pipe while the processor runs, want %d", n, int64(want.Len())-written)
				}
			} else {
				testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { return inPipe() == 0 }, stderr.String)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "current")); len(b) != 0 {
				t.Errorf("current got %d bytes while the processor ran", len(b))
			}
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			p.w.Close()
			if code := waitExit(t, cmd); code != 0 {
				t.Fatalf("exit %d; stderr %q", code, stderr.String())
			}
			if got := readLog(t, dir); got != want.String() {
				t.Errorf("log (%d bytes) differs from the input (%d bytes)", len(got), want.Len())
			}
		})
	}
}

// TestCompatLock: svlog and Debian's s6-log lock a log directory the same
// way: neither starts on a directory the other one is using.
func TestCompatLock(t *testing.T) {
	s6log := needTool(t, "s6-log")
	for _, first := range []string{"svlog", "s6-log"} {
		t.Run(first+" first", func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			p := newPipe(t)
			var holder, second *exec.Cmd
			if first == "svlog" {
				holder, second = p.start(t, io.Discard, dir), exec.Command(s6log, dir)
			} else {
				holder = exec.Command(s6log, "-d3", dir)
				holder.Stdin = p.r
				nr, nw, _ := os.Pipe()
				holder.ExtraFiles = []*os.File{nw}
				if err := holder.Start(); err != nil {
					t.Fatal(err)
				}
				nw.Close()
				io.ReadAll(nr) // ready: the directory is locked
				nr.Close()
				second = svlogCmd(t, dir)
			}
			second.Stdin = strings.NewReader("x\n")
			out, err := second.CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 111 {
				t.Errorf("second logger on a locked directory: %v, %q; want exit 111", err, out)
			}
			p.w.Close()
			if code := waitExit(t, holder); code != 0 {
				t.Errorf("%s exit %d", first, code)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "current")); len(b) != 0 {
				t.Errorf("current = %q: the second logger wrote to a locked directory", b)
			}
		})
	}
}

// TestLastLineTimeout: input that is not a pipe (a socket here) is read
// like s6-log reads it, so a TERM can come with part of a line already
// read. Without -t the logger waits for the end of that line (like
// Debian's s6-log), logs it, and takes nothing after it; with -t it logs
// the part it has once the timeout expires.
func TestLastLineTimeout(t *testing.T) {
	for _, tc := range []struct {
		name, logger string
		args         []string
	}{
		{"svlog -t", "", []string{"-t", "200"}},
		{"svlog", "", nil},
		{"s6-log", "s6-log", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := os.NewFile(uintptr(fds[0]), "ours"), os.NewFile(uintptr(fds[1]), "theirs")
			defer ours.Close()
			defer theirs.Close()
			var cmd *exec.Cmd
			if tc.logger != "" {
				cmd = exec.Command(needTool(t, tc.logger), append(tc.args, dir)...)
			} else {
				cmd = svlogCmd(t, append(tc.args, dir)...)
			}
			stderr := &syncBuffer{}
			cmd.Stdin, cmd.Stderr = theirs, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			ours.WriteString("a\npar")
			cur := filepath.Join(dir, "current")
			testutil.WaitFor(t, "the condition", 30*time.Second, func() bool { b, _ := os.ReadFile(cur); return string(b) == "a\n" }, stderr.String)
			cmd.Process.Signal(syscall.SIGTERM)
			if len(tc.args) > 0 {
				if code := waitExit(t, cmd); code != 0 {
					t.Fatalf("exit %d; stderr %q", code, stderr.String())
				}
				if b, _ := os.ReadFile(cur); string(b) != "a\npar\n" {
					t.Errorf("current = %q, want the partial line logged after the timeout", b)
				}
				return
			}
			// Waiting for the end of the line: still running a while later.
			time.Sleep(300 * time.Millisecond)
			if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
				t.Fatalf("logger gone before the end of its last line: %v", err)
			}
			ours.WriteString("tial\nnext\n")
			if code := waitExit(t, cmd); code != 0 {
				t.Fatalf("exit %d; stderr %q", code, stderr.String())
			}
			if b, _ := os.ReadFile(cur); string(b) != "a\npartial\n" {
				t.Errorf("current = %q, want a and partial", b)
			}
			syscall.SetNonblock(fds[1], true) // a read must not hang if nothing is left
			rest := make([]byte, 100)
			if n, _ := syscall.Read(fds[1], rest); n < 0 || string(rest[:n]) != "next\n" {
				t.Errorf("input left = %q, want the line after the last one", rest[:n])
			}
		})
	}
}
