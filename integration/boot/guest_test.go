package boot

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	"github.com/hugelgupf/vmtest/qemu"
	"github.com/svinit/svinit/pkg/getty"
)

// Generous bounds for waits that must succeed (TCG on a loaded 2-core
// machine). They are limits, never measurements.
const (
	bootTimeout  = 4 * time.Minute
	cmdTimeout   = 2 * time.Minute
	vmTimeout    = 12 * time.Minute
	defaultAppnd = "console=ttyS0 panic=-1"
)

// guest is a booted VM and its serial console.
type guest struct {
	t *testing.T
	// onFail, when set, is called instead of t.Fatalf when the guest
	// cannot be driven (console timeouts, a shell that does not answer);
	// bootGosh uses it to boot again (see there).
	onFail func(msg string)
	// patience bounds the waits for the shell (default bootTimeout).
	patience time.Duration
	vm       *qemu.VM
	name     string
	seq      int
	rec      *recorder
	env      *env
}

type bootOpts struct {
	append  []string // kernel parameters
	qemuArg []string // extra QEMU arguments (devices)
	watch   []string // serial substrings whose first appearance is timed
}

// boot starts QEMU on the kernel and the initramfs.
func boot(t *testing.T, e *env, name, initramfs string, o bootOpts) *guest {
	t.Helper()
	cpu := "max"
	if e.accel == "kvm" {
		cpu = "host"
	}
	rec := newRecorder(append([]string{"Run /init"}, o.watch...))
	clog := newConsoleLog(t, e, name)
	// The console goes to a file, not to t.Logf: a failing test's
	// message must not drown under thousands of kernel lines. Its last
	// lines are printed when the test fails (see consoleLog).
	t.Cleanup(func() { clog.report(t) })
	args := append([]string{"-M", "pc", "-accel", e.accel, "-cpu", cpu, "-m", "512", "-smp", "2", "-no-reboot"}, o.qemuArg...)
	vm, err := qemu.Start(qemu.ArchAMD64,
		qemu.WithQEMUCommand(e.qemu),
		qemu.ArbitraryArgs(args...),
		qemu.WithKernel(e.kernel),
		qemu.WithInitramfs(initramfs),
		qemu.WithAppendKernel(append([]string{defaultAppnd}, o.append...)...),
		qemu.WithSerialOutput(rec),
		qemu.LogSerialByLine(qemu.RelativeTS(clog.line)),
		qemu.WithVMTimeout(vmTimeout),
	)
	if err != nil {
		t.Fatalf("%s: starting QEMU: %v", name, err)
	}
	rec.start(time.Now())
	g := &guest{t: t, vm: vm, name: name, rec: rec, env: e}
	t.Cleanup(func() {
		if !vm.Waited() {
			vm.Kill()
			vm.Wait()
		}
		if t.Failed() {
			t.Logf("%s: QEMU command line:\n%s", name, vm.CmdlineQuoted())
		}
	})
	return g
}

// consoleLogLines is how many of the console's last lines a failing
// test prints.
const consoleLogLines = 150

// consoleLog keeps a guest's serial console: the whole of it in a file
// (under BOOTTEST_LOGS, default out/boot-logs in the repository) and
// its last lines in memory, printed if the test fails.
type consoleLog struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	lines []string
	n     int
}

func newConsoleLog(t *testing.T, e *env, name string) *consoleLog {
	c := &consoleLog{}
	dir := os.Getenv("BOOTTEST_LOGS")
	if dir == "" {
		dir = filepath.Join(e.root, "out", "boot-logs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("%s: console log not kept: %v", name, err)
		return c
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Logf("%s: console log not kept: %v", name, err)
		return c
	}
	c.f, c.path = f, path
	return c
}

func (c *consoleLog) line(l string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l = strings.ReplaceAll(strings.TrimRight(l, "\r"), "\x1b", "^[")
	if c.f != nil {
		fmt.Fprintln(c.f, l)
	}
	c.n++
	c.lines = append(c.lines, l)
	if len(c.lines) > 2*consoleLogLines {
		c.lines = append(c.lines[:0], c.lines[len(c.lines)-consoleLogLines:]...)
	}
}

// report closes the file and, if t failed, prints the console's end.
func (c *consoleLog) report(t *testing.T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f != nil {
		c.f.Close()
	}
	if !t.Failed() {
		return
	}
	last := c.lines
	if len(last) > consoleLogLines {
		last = last[len(last)-consoleLogLines:]
	}
	where := "not kept"
	if c.path != "" {
		where = c.path
	}
	t.Logf("serial console: %d lines (all in %s); the last %d:\n%s", c.n, where, len(last), strings.Join(last, "\n"))
}

// bootFailure is how a boot whose console cannot be driven ends when
// onFail is set.
type bootFailure struct{ msg string }

// bootShell boots img and waits for the getty's shell (shell). The
// console never loses what is typed nor stops answering (docs/getty.md):
// a shell that does not answer fails the test, on the first boot.
func bootShell(t *testing.T, e *env, name, img string, o bootOpts) *guest {
	t.Helper()
	g := boot(t, e, name, img, o)
	g.shell()
	return g
}

// goshAttempts is how many boots bootGosh tries.
const goshAttempts = 3

// bootGosh boots an image whose console shell is u-root's gosh (u-root's
// own init, for the boot time comparison) and runs ready on it. gosh's line editor is bubbline on
// bubbletea v0.24.1, whose renderer can deadlock at the end of a line
// (its stop sends on a channel while holding the mutex the ticker's
// flush waits for; fixed upstream in v0.24.2, which u-root's bubbline
// cannot build with): the shell then never reads its terminal again and
// nothing can bring it back from outside. So a gosh boot whose console
// cannot be driven during ready is logged and made again, up to
// goshAttempts times, with 90 s of patience for all but the last (a
// fault of ours that keeps the shell from answering fails every
// attempt, and so the test). svinit's console (getty's own shell) is
// never given this: see bootShell.
func bootGosh(t *testing.T, e *env, name, img string, o bootOpts, ready func(*guest)) *guest {
	t.Helper()
	for attempt := 1; ; attempt++ {
		g := boot(t, e, tryName(name, attempt), img, o)
		if attempt < goshAttempts {
			g.patience = 90 * time.Second
			g.onFail = func(msg string) { panic(bootFailure{msg}) }
		}
		failed := g.try(func() { ready(g) })
		if failed == nil {
			g.patience, g.onFail = 0, nil
			return g
		}
		t.Logf("%s: boot %d of %d: gosh not answering, booting again: %s", name, attempt, goshAttempts, failed.msg)
		g.kill()
	}
}

// step runs f as the subtest name of t, the guest reporting to the
// subtest meanwhile and to t again afterwards.
func (g *guest) step(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(st *testing.T) {
		g.t = st
		defer func() { g.t = t }()
		f(st)
	})
}

// tryName names the attempt-th boot of name (its console log keeps the
// attempts apart).
func tryName(name string, attempt int) string {
	if attempt == 1 {
		return name
	}
	return fmt.Sprintf("%s-try%d", name, attempt)
}

// try runs f and returns the bootFailure it ended with, if any.
func (g *guest) try(f func()) (failed *bootFailure) {
	defer func() {
		if r := recover(); r != nil {
			bf, ok := r.(bootFailure)
			if !ok {
				panic(r)
			}
			failed = &bf
		}
	}()
	f()
	return nil
}

// fatalf ends the test, or the boot if onFail is set.
func (g *guest) fatalf(format string, a ...any) {
	g.t.Helper()
	if g.onFail != nil {
		g.onFail(fmt.Sprintf(format, a...))
	}
	g.t.Fatalf(format, a...)
}

func (g *guest) wait4shell() time.Duration {
	if g.patience > 0 {
		return g.patience
	}
	return bootTimeout
}

// expect waits for one of the strings; it returns the console output
// read meanwhile (ending with the match).
func (g *guest) expect(timeout time.Duration, s ...string) string {
	g.t.Helper()
	out, err := g.vm.Console.Expect(expect.String(s...), expect.WithTimeout(timeout))
	if err != nil {
		g.fatalf("%s: waiting %v for %q: %v\nlast console output:\n%s", g.name, timeout, s, err, tail(out, 3000))
	}
	return out
}

// expectRe waits for a regular expression and returns its submatches.
func (g *guest) expectRe(timeout time.Duration, re string) []string {
	g.t.Helper()
	r := regexp.MustCompile(re)
	out, err := g.vm.Console.Expect(expect.Regexp(r), expect.WithTimeout(timeout))
	if err != nil {
		g.fatalf("%s: waiting %v for /%s/: %v\nlast console output:\n%s", g.name, timeout, re, err, tail(out, 3000))
	}
	return r.FindStringSubmatch(out)
}

func (g *guest) send(s string) {
	g.t.Helper()
	if _, err := g.vm.Console.Send(s); err != nil {
		g.fatalf("%s: console: %v", g.name, err)
	}
}

// shell waits for the getty's banner and its shell's prompt.
// Commands are typed straight at the prompt, the next one once the
// previous one has answered (runStatus).
func (g *guest) shell() {
	g.t.Helper()
	g.expect(g.wait4shell(), "svinit on ")
	g.prompt()
	// Console messages of the kernel would mix with the output.
	g.run("echo 1 > /proc/sys/kernel/printk")
}

// gettyPromptSeq is how the getty's shell prompt shows on the serial
// line: at the start of a line (after the banner, or after kernel
// messages printed between the two).
const gettyPromptSeq = "\n" + getty.PromptMain

// prompt waits for the getty's shell prompt. The shell asks the
// terminal nothing: there is nothing to answer.
func (g *guest) prompt() {
	g.t.Helper()
	g.expect(g.wait4shell(), gettyPromptSeq)
}

// goshShell waits for gosh (bootGosh) and replaces its interactive loop
// by a plain one reading the terminal in canonical mode: one command
// line at a time, no redrawing, so commands and their output can be
// told apart by markers.
func (g *guest) goshShell() {
	g.t.Helper()
	g.goshPrompt()
	g.run("echo 1 > /proc/sys/kernel/printk")
}

// goshPromptRe matches gosh's line editor's cursor position query, or
// its prompt (which starts by hiding the cursor) even when kernel
// messages were printed between the two halves: the console log level
// is only lowered once the shell answers. Colour codes may come before
// the "> " (gosh started without TERM colours its prompt).
var goshPromptRe = regexp.MustCompile(`\x1b\[6n|\x1b\[\?25l(?:\x1b\[[0-9;]*m|\[[ 0-9.]+\][^\n]*\n)*\r?> `)

// goshPromptSeq starts gosh's prompt (u-root's init's console).
const goshPromptSeq = "\x1b[?25l> "

// goshPrompt answers gosh's terminal queries, waits for its prompt, and
// starts the plain loop. If no prompt can be recognised in the
// console's stream for a while, it types the loop anyway: goshSync
// retries until the shell answers.
func (g *guest) goshPrompt() {
	g.t.Helper()
	deadline := time.Now().Add(g.wait4shell())
	for time.Now().Before(deadline) {
		out, err := g.vm.Console.Expect(expect.Regexp(goshPromptRe), expect.WithTimeout(30*time.Second))
		if err != nil {
			g.t.Logf("%s: no line editor prompt recognised in 30 s (last output %q); typing the loop anyway", g.name, tail(out, 300))
			break
		}
		if strings.HasSuffix(out, cprQuery) {
			// Cursor position report: "this terminal answers, it
			// just has no colour to tell" (the editor would
			// otherwise wait seconds for a reply).
			g.send(cprReply)
			continue
		}
		break
	}
	g.send(replLine + "\r")
	g.goshSync()
}

// gosh's line editor's cursor position query, and the answer the tests give.
const (
	cprQuery = "\x1b[6n"
	cprReply = "\x1b[1;1R"
)

// replLine is the plain loop the tests type into gosh's line editor.
const replLine = `while read -r l; do eval "$l"; done`

// goshSync makes sure the plain loop reads commands: gosh's line editor
// drops what it read past the Enter that ended it, so a line sent too
// early is lost; send again until one is answered.
func (g *guest) goshSync() {
	g.t.Helper()
	deadline := time.Now().Add(g.wait4shell())
	for try := 1; time.Now().Before(deadline); try++ {
		if try%5 == 0 {
			// Still no answer: the loop line itself may have been
			// lost; type it again (nested in the loop, it is harmless).
			g.send("\r" + replLine + "\r")
		}
		g.seq++
		marker := fmt.Sprintf("<<SYNC%d>>", g.seq)
		g.send(fmt.Sprintf("echo \"<<SY\"\"NC%d>>\"\n", g.seq))
		for {
			out, err := g.vm.Console.Expect(expect.String(marker, cprQuery), expect.WithTimeout(3*time.Second))
			if err == nil && strings.HasSuffix(out, cprQuery) {
				// The line editor asks for the cursor position again
				// (it does after kernel messages scrolled the console)
				// and waits for the answer: give it one.
				g.send(cprReply)
				continue
			}
			if err == nil {
				return
			}
			break
		}
	}
	g.fatalf("%s: the shell does not answer", g.name)
}

// run runs a shell command line in the guest and returns its output
// (\r\n turned into \n) and exit status.
func (g *guest) runStatus(timeout time.Duration, cmd string) (string, int) {
	g.t.Helper()
	g.seq++
	n := g.seq
	// The markers are split by quotes in the echoed command line, so
	// only the output matches them.
	g.send(fmt.Sprintf("echo \"<<BE\"\"GIN%d>>\"; %s; echo \"<<RC=$? E\"\"ND%d>>\"\n", n, cmd, n))
	out := g.expect(timeout, fmt.Sprintf("END%d>>", n))
	begin := fmt.Sprintf("<<BEGIN%d>>", n)
	i := strings.LastIndex(out, begin)
	j := strings.LastIndex(out, "<<RC=")
	if i < 0 || j < i {
		g.fatalf("%s: cannot find the output of %q in:\n%s", g.name, cmd, tail(out, 3000))
	}
	// The terminal turns \n into \r\n; no command here prints \r.
	body := strings.ReplaceAll(out[i+len(begin):j], "\r", "")
	body = strings.TrimPrefix(body, "\n")
	rc, err := strconv.Atoi(strings.Fields(out[j+len("<<RC="):])[0])
	if err != nil {
		g.fatalf("%s: exit status of %q: %v", g.name, cmd, err)
	}
	return body, rc
}

// run runs a command that must succeed.
func (g *guest) run(cmd string) string {
	g.t.Helper()
	out, rc := g.runStatus(cmdTimeout, cmd)
	if rc != 0 {
		g.fatalf("%s: %q exited %d:\n%s", g.name, cmd, rc, out)
	}
	return out
}

// check runs a command and reports (without stopping) a non-zero exit.
func (g *guest) check(cmd string) (string, bool) {
	g.t.Helper()
	out, rc := g.runStatus(cmdTimeout, cmd)
	if rc != 0 {
		g.t.Errorf("%s: %q exited %d:\n%s", g.name, cmd, rc, out)
		return out, false
	}
	return out, true
}

// wait waits for QEMU to exit by itself (poweroff, reboot with
// -no-reboot) and reports an error exit.
func (g *guest) wait(timeout time.Duration) {
	g.t.Helper()
	done := make(chan error, 1)
	go func() { done <- g.vm.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			g.t.Errorf("%s: QEMU: %v", g.name, err)
		}
	case <-time.After(timeout):
		g.vm.Kill()
		<-done
		g.fatalf("%s: QEMU still running %v after the guest was told to stop", g.name, timeout)
	}
}

// kill stops QEMU (the test is done with the guest).
func (g *guest) kill() {
	g.vm.Kill()
	g.vm.Wait()
}

func tail(s string, n int) string {
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return strings.ReplaceAll(s, "\x1b", "^[")
}

// recorder watches the raw serial output (a SerialOutput writer) and
// records, on the host clock, when given strings first appear.
type recorder struct {
	mu    sync.Mutex
	t0    time.Time
	watch []string
	seen  map[string]time.Time
	buf   []byte
}

func newRecorder(watch []string) *recorder {
	return &recorder{watch: watch, seen: map[string]time.Time{}}
}

func (r *recorder) start(t time.Time) {
	r.mu.Lock()
	r.t0 = t
	r.mu.Unlock()
}

func (r *recorder) Write(p []byte) (int, error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, p...)
	for _, w := range r.watch {
		if _, ok := r.seen[w]; !ok && strings.Contains(string(r.buf), w) {
			r.seen[w] = now
		}
	}
	// Keep enough to match a watched string split across writes.
	if len(r.buf) > 4096 {
		r.buf = append(r.buf[:0], r.buf[len(r.buf)-256:]...)
	}
	return len(p), nil
}

func (r *recorder) Close() error { return nil }

// watchFor starts watching s (from now on).
func (r *recorder) watchFor(s string) {
	r.mu.Lock()
	r.watch = append(r.watch, s)
	r.mu.Unlock()
}

// at returns when s first appeared.
func (r *recorder) at(s string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.seen[s]
	return t, ok
}
