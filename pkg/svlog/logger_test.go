package svlog

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// runScript runs a logger over input in dir (the working directory for
// relative logdirs is not changed: tests use absolute paths) and returns
// what it wrote to stdout and stderr.
func runScript(t *testing.T, args []string, opts Options, input string) (string, string) {
	t.Helper()
	sc, err := Parse(args)
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write([]byte(input))
		w.Close()
	}()
	var stdout, stderr bytes.Buffer
	if opts.NotifyFd == 0 {
		opts.NotifyFd = -1
	}
	l, err := New(sc, opts, int(r.Fd()), &stdout, &stderr)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := l.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return stdout.String(), stderr.String()
}

func TestSelection(t *testing.T) {
	in := "alpha one\nbeta two\ngamma three\nalpha four\nfatal: x\n"
	for _, tc := range []struct {
		name string
		args []string
		out  string
	}{
		{"all", []string{"1"}, in},
		{"minus", []string{"-^alpha", "1"}, "beta two\ngamma three\nfatal: x\n"},
		{"minus plus", []string{"-.*", "+^alpha", "1"}, "alpha one\nalpha four\n"},
		{"plus only selected already", []string{"+^alpha", "1"}, in},
		{"f after action", []string{"-.*", "+^alpha", "2", "f", "1"}, "beta two\ngamma three\nfatal: x\n"},
		{"selection carries over", []string{"-.*", "+beta", "2", "+gamma", "1"}, "beta two\ngamma three\n"},
		{"two elements", []string{"-.*", "+one", "1", "-.*", "+two", "1"}, "alpha one\nbeta two\n"},
		{"prefix", []string{"-.*", "+two", "pP:", "1"}, "P: beta two\n"},
		{"posix class", []string{"-.*", "+[[:upper:]]", "+^[[:alpha:]]+ t", "1"}, "beta two\ngamma three\n"},
		{"nul ends lines", []string{"1"}, in},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := runScript(t, tc.args, Options{Verbosity: 1}, in)
			if out != tc.out {
				t.Errorf("stdout = %q, want %q", out, tc.out)
			}
		})
	}
}

func TestLineHandling(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name  string
		limit int
		in    string
		out   string
	}{
		{"partial last line gets a newline", 8192, "a\nb", "a\nb\n"},
		{"nul terminates", 8192, "a\x00b\nc\n", "a\nb\nc\n"},
		{"split long line", 48, long + "\n", long[:48] + "\n" + long[:48] + "\n" + long[:4] + "\n"},
		{"exact limit not split", 48, long[:48] + "\nz\n", long[:48] + "\nz\n"},
		{"limit raised to 48", 10, long[:50] + "\n", long[:48] + "\nxx\n"},
		{"no limit", 0, long + long + "\n", long + long + "\n"},
		{"empty lines", 8192, "\n\n", "\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := runScript(t, []string{"1"}, Options{Verbosity: 1, LineLimit: tc.limit}, tc.in)
			if out != tc.out {
				t.Errorf("stdout = %q, want %q", out, tc.out)
			}
		})
	}
}

func TestStampsAlertsStatus(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "status")
	out, errs := runScript(t, []string{"t", "T", "pP", "1", "E5", "2", "^12", "=" + st}, Options{Verbosity: 1},
		"hello\nhello world\n")
	re := regexp.MustCompile(`^@4000[0-9a-f]{20} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}  P hello\n` +
		`@4000[0-9a-f]{20} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}  P hello world\n$`)
	if !re.MatchString(out) {
		t.Errorf("stdout = %q", out)
	}
	if want := "svlog: alert: P hello\nsvlog: alert: P hello...\n"; errs != want {
		t.Errorf("stderr = %q, want %q", errs, want)
	}
	b, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "P hello worl" {
		t.Errorf("status = %q", b)
	}
	runScript(t, []string{"^12", "=" + st}, Options{Verbosity: 1}, "ab\n")
	if b, _ := os.ReadFile(st); string(b) != "ab"+strings.Repeat("\n", 10) {
		t.Errorf("padded status = %q", b)
	}
	runScript(t, []string{"^0", "=" + st}, Options{Verbosity: 1}, "abc\n")
	if b, _ := os.ReadFile(st); string(b) != "abc\n" {
		t.Errorf("unpadded status = %q", b)
	}
}

// archives lists the @....s/.u files of dir, oldest first.
func archives(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var a []string
	for _, e := range ents {
		if isArchive(e.Name()) {
			a = append(a, e.Name())
		}
	}
	sort.Strings(a)
	return a
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line %06d %s\n", i, strings.Repeat("y", 50))
	}
	return b.String()
}

func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	for _, a := range archives(t, dir) {
		x, err := os.ReadFile(filepath.Join(dir, a))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(x)
	}
	x, err := os.ReadFile(filepath.Join(dir, "current"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	b.Write(x)
	return b.String()
}

func TestRotation(t *testing.T) {
	old := unix.Umask(0o022)
	defer unix.Umask(old)
	dir := filepath.Join(t.TempDir(), "log")
	in := numbered(1, 1000) // 62 bytes a line, 62000 bytes
	runScript(t, []string{"s4096", "n100", dir}, Options{Verbosity: 1}, in)
	arcs := archives(t, dir)
	if len(arcs) < 14 {
		t.Fatalf("%d archives, want at least 14: %v", len(arcs), arcs)
	}
	for _, a := range arcs {
		if !strings.HasSuffix(a, ".s") {
			t.Errorf("archive %s not .s", a)
		}
		p := filepath.Join(dir, a)
		if m := mode(t, p); m != 0o744 {
			t.Errorf("%s mode %o, want 744", a, m)
		}
		fi, _ := os.Stat(p)
		if fi.Size() > 4096 || fi.Size() < 4096-2000 {
			t.Errorf("%s size %d, want in [2096, 4096]", a, fi.Size())
		}
		b, _ := os.ReadFile(p)
		if len(b) == 0 || b[len(b)-1] != '\n' {
			t.Errorf("%s does not end at a line boundary", a)
		}
	}
	if got := readAll(t, dir); got != in {
		t.Errorf("logged data differs from input (%d vs %d bytes)", len(got), len(in))
	}
	if m := mode(t, filepath.Join(dir, "current")); m != 0o744 {
		t.Errorf("finalized current mode %o, want 744", m)
	}
	for _, f := range []string{"lock", "state"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"previous", "processed", "newstate"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left over", f)
		}
	}

	// Archive count: n3 keeps the 3 newest.
	before := archives(t, dir)
	runScript(t, []string{"s4096", "n3", dir}, Options{Verbosity: 1}, numbered(1001, 1200))
	after := archives(t, dir)
	if len(after) != 3 {
		t.Fatalf("n3: %d archives: %v", len(after), after)
	}
	if after[0] <= before[len(before)-1] {
		t.Errorf("kept an old archive: %v (newest before %s)", after, before[len(before)-1])
	}

	// Total size: S limits the archives' total.
	runScript(t, []string{"s4096", "n100", "S9000", dir}, Options{Verbosity: 1}, numbered(1201, 1400))
	var total int64
	for _, a := range archives(t, dir) {
		fi, _ := os.Stat(filepath.Join(dir, a))
		total += fi.Size()
	}
	if total > 9000 {
		t.Errorf("archives total %d bytes, want <= 9000", total)
	}
}

func TestTimestampedLogdir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	runScript(t, []string{"t", dir}, Options{Verbosity: 1}, "a\nb\n")
	b, _ := os.ReadFile(filepath.Join(dir, "current"))
	if !regexp.MustCompile(`^@4000[0-9a-f]{20} a\n@4000[0-9a-f]{20} b\n$`).Match(b) {
		t.Errorf("current = %q", b)
	}
}

func TestAppendAfterCleanExit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	runScript(t, []string{dir}, Options{Verbosity: 1}, "a\n")
	runScript(t, []string{dir}, Options{Verbosity: 1}, "b\n")
	if got := readAll(t, dir); got != "a\nb\n" {
		t.Errorf("log = %q", got)
	}
	if a := archives(t, dir); len(a) != 0 {
		t.Errorf("archives after clean restarts: %v", a)
	}
}

func TestProcessor(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	// The processor upper-cases the archive and counts rotations in state.
	proc := `tr a-z A-Z && n=$(cat <&4) && echo $((${n:-0}+1)) >&5`
	in := numbered(1, 300)
	runScript(t, []string{"s4096", "n100", "?" + proc, dir}, Options{Verbosity: 1}, in)
	arcs := archives(t, dir)
	if len(arcs) < 3 {
		t.Fatalf("archives: %v", arcs)
	}
	var all strings.Builder
	for _, a := range arcs {
		b, _ := os.ReadFile(filepath.Join(dir, a))
		all.Write(b)
		if m := mode(t, filepath.Join(dir, a)); m&0o100 == 0 {
			t.Errorf("%s mode %o lacks u+x", a, m)
		}
	}
	cur, _ := os.ReadFile(filepath.Join(dir, "current"))
	if all.String()+strings.ToUpper(string(cur)) != strings.ToUpper(in) {
		t.Error("processed archives + current differ from the upper-cased input")
	}
	st, _ := os.ReadFile(filepath.Join(dir, "state"))
	if strings.TrimSpace(string(st)) != fmt.Sprint(len(arcs)) {
		t.Errorf("state = %q, want %d", st, len(arcs))
	}
	for _, f := range []string{"previous", "processed", "newstate"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left over", f)
		}
	}
}

func TestProcessorRetry(t *testing.T) {
	dir := t.TempDir()
	ld := filepath.Join(dir, "log")
	flag := filepath.Join(dir, "failed-once")
	// Fails the first time, succeeds after.
	proc := fmt.Sprintf(`if [ -e %s ]; then cat; else touch %s; exit 1; fi`, flag, flag)
	in := numbered(1, 100)
	_, errs := runScript(t, []string{"s4096", "r10", "?" + proc, ld}, Options{Verbosity: 1}, in)
	if !strings.Contains(errs, "processor failed") {
		t.Errorf("stderr = %q, want a processor failure warning", errs)
	}
	if got := readAll(t, ld); got != in {
		t.Errorf("log differs from input after a processor retry")
	}
}

func TestRecovery(t *testing.T) {
	write := func(t *testing.T, p, s string, m os.FileMode) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), m); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup map[string]string // name -> content; names ending in "+x" get mode 0744
		want  []string          // archive suffixes (in order) and their contents "s:..." / "u:..."
		cur   string
		gone  []string
	}{
		{"crashed current", map[string]string{"current": "a\n"}, []string{"u:a\n"}, "", nil},
		{"finalized current kept", map[string]string{"current+x": "a\n"}, nil, "a\n", nil},
		{"interrupted rotation before processing", map[string]string{"previous+x": "p\n", "current": "c\n", "state": "st", "newstate": "ns"},
			[]string{"u:p\n", "u:c\n"}, "", []string{"previous", "newstate"}},
		{"processor done, not archived", map[string]string{"previous+x": "p\n", "processed+x": "P\n", "current": "c\n", "newstate": "ns"},
			[]string{"s:P\n", "u:c\n"}, "", []string{"previous", "processed", "newstate"}},
		{"processor killed midway", map[string]string{"previous+x": "p\n", "processed": "half", "current": "c\n"},
			[]string{"u:p\n", "u:c\n"}, "", []string{"previous", "processed"}},
		{"rename done, no current yet", map[string]string{"previous": "p\n"}, []string{"u:p\n"}, "", []string{"previous"}},
		{"link done, unlink not", map[string]string{"current": "c\n", "@400000006b0630e008b74dea.u": "c\n"}, nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			os.Mkdir(dir, 0o700)
			for n, c := range tc.setup {
				m := os.FileMode(0o644)
				if strings.HasSuffix(n, "+x") {
					n, m = strings.TrimSuffix(n, "+x"), 0o744
				}
				write(t, filepath.Join(dir, n), c, m)
			}
			if strings.HasPrefix(tc.name, "link done") {
				// Simulate the crash between link and unlink: current has a
				// second name.
				os.Remove(filepath.Join(dir, "@400000006b0630e008b74dea.u"))
				if err := os.Link(filepath.Join(dir, "current"), filepath.Join(dir, "@400000006b0630e008b74dea.u")); err != nil {
					t.Fatal(err)
				}
				tc.want = []string{"u:c\n"}
			}
			d, err := OpenLogdir(DirConfig{Path: dir, Archives: 10, FileSize: 99999, Tolerance: 2000}, 0o644, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			arcs := archives(t, dir)
			if len(arcs) != len(tc.want) {
				t.Fatalf("archives %v, want %d", arcs, len(tc.want))
			}
			for i, a := range arcs {
				b, _ := os.ReadFile(filepath.Join(dir, a))
				if got := a[26:] + ":" + string(b); got != tc.want[i] {
					t.Errorf("archive %s = %q, want %q", a, got, tc.want[i])
				}
			}
			cur, err := os.ReadFile(filepath.Join(dir, "current"))
			if err != nil || string(cur) != tc.cur {
				t.Errorf("current = %q, %v; want %q", cur, err, tc.cur)
			}
			if m := mode(t, filepath.Join(dir, "current")); m != 0o644 {
				t.Errorf("current mode %o while open, want 644", m)
			}
			for _, g := range tc.gone {
				if _, err := os.Stat(filepath.Join(dir, g)); err == nil {
					t.Errorf("%s still there", g)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "state")); err != nil && tc.setup["current+x"] == "" {
				t.Errorf("state: %v", err)
			}
		})
	}
}

func TestLocked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	d, err := OpenLogdir(DirConfig{Path: dir, Archives: 10, FileSize: 99999}, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// A script naming it twice is refused by Parse; New checks again for
	// scripts built otherwise.
	sc := &Script{Dirs: []DirConfig{{Path: dir}, {Path: dir + "/"}}}
	if _, err := New(sc, Options{NotifyFd: -1}, 0, nil, nil); err == nil || !strings.Contains(err.Error(), "named twice") {
		t.Errorf("same dir twice: err = %v", err)
	}
}

func BenchmarkLines(b *testing.B) {
	sc, _ := Parse([]string{"t", "1"})
	l := &Logger{sc: sc, opts: Options{Prog: "svlog"}}
	l.acts = [][]Action{sc.Elems[0].Acts}
	line := []byte("0000001 the quick brown fox jumps over the lazy dog, lorem ipsum dolor sit amet")
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	l.in = int(r.Fd())
	b.SetBytes(int64(len(line) + 1))
	for i := 0; i < b.N; i++ {
		l.line(line, time.Now())
		if len(l.outBuf) > 1<<16 {
			l.outBuf = l.outBuf[:0]
		}
	}
}

// TestLastLine checks that after a TERM/HUP with part of a line already
// taken from the pipe, svlog completes that line and takes nothing more.
func TestLastLine(t *testing.T) {
	for _, peek := range []bool{false, true} {
		t.Run(fmt.Sprintf("peek=%v", peek), func(t *testing.T) {
			sc, _ := Parse([]string{"1"})
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			defer w.Close()
			var out bytes.Buffer
			l, err := New(sc, Options{NotifyFd: -1, NoPeek: !peek}, int(r.Fd()), &out, &out)
			if err != nil {
				t.Fatal(err)
			}
			if peek {
				l.setupPeek()
				defer l.closePeek()
				if !l.peek {
					t.Fatal("peek mode not enabled on a pipe")
				}
			}
			l.buf = append(l.buf, "par"...) // as if taken out of the pipe earlier
			l.signal(unix.SIGHUP)
			if !l.lastLine || l.exiting {
				t.Fatalf("lastLine %v exiting %v", l.lastLine, l.exiting)
			}
			w.WriteString("tial\nnext line\n")
			for i := 0; !l.exiting && i < 100; i++ {
				l.readInput(false)
			}
			l.flushStdout()
			l.consume()
			if out.String() != "partial\n" {
				t.Errorf("logged %q", out.String())
			}
			w.Close()
			rest := make([]byte, 100)
			n, _ := r.Read(rest)
			if string(rest[:n]) != "next line\n" {
				t.Errorf("pipe holds %q", rest[:n])
			}
		})
	}
}

// refLines is the reference line splitter: '\n' and NUL end lines,
// lines longer than limit are cut, a final partial line is kept.
func refLines(in string, limit int) string {
	var out strings.Builder
	var cur []byte
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '\n' || c == 0 {
			out.Write(cur)
			out.WriteByte('\n')
			cur = cur[:0]
			continue
		}
		cur = append(cur, c)
		if limit > 0 && len(cur) > limit {
			out.Write(cur[:limit])
			out.WriteByte('\n')
			cur = append(cur[:0], cur[limit:]...)
		}
	}
	if len(cur) > 0 {
		out.Write(cur)
		out.WriteByte('\n')
	}
	return out.String()
}

func FuzzLines(f *testing.F) {
	f.Add("a\nb", uint8(0))
	f.Add("a\x00b\n\n"+strings.Repeat("x", 200)+"\n", uint8(48))
	f.Add(strings.Repeat("y", 49), uint8(1))
	f.Fuzz(func(t *testing.T, in string, lim uint8) {
		limit := int(lim)
		if limit > 0 && limit < MinLineLimit {
			limit = MinLineLimit
		}
		if lim == 0 {
			limit = 0
		}
		out, _ := runScript(t, []string{"1"}, Options{LineLimit: limit}, in)
		if want := refLines(in, limit); out != want {
			t.Fatalf("input %q limit %d:\n got  %q\n want %q", in, limit, out, want)
		}
	})
}

// TestRotationAtEnd: a rotation that comes due with the last write must
// still run (and svlog exit), in blocking mode too.
func TestRotationAtEnd(t *testing.T) {
	for _, block := range []bool{false, true} {
		t.Run(fmt.Sprintf("block=%v", block), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			in := numbered(1, 40) // 2480 bytes: within l2000 of s4096
			done := make(chan struct{})
			go func() {
				defer close(done)
				runScript(t, []string{"s4096", dir}, Options{Block: block}, in)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("svlog did not finish")
			}
			if a := archives(t, dir); len(a) != 1 {
				t.Errorf("archives %v, want 1", a)
			}
			if got := readAll(t, dir); got != in {
				t.Errorf("log differs from input")
			}
		})
	}
}

func TestProcessorExecline(t *testing.T) {
	if _, err := exec.LookPath("execlineb"); err != nil {
		t.Fatalf("execlineb not found: %v (apt-get install execline, or run make test as root)", err)
	}
	if argv := processorArgv("tr a-z A-Z", false); !strings.HasSuffix(argv[0], "execlineb") || argv[1] != "-Pc" {
		t.Errorf("argv = %q", argv)
	}
	if argv := processorArgv("x", true); argv[0] != "/bin/sh" || argv[1] != "-c" {
		t.Errorf("? argv = %q", argv)
	}
	dir := filepath.Join(t.TempDir(), "log")
	in := numbered(1, 200)
	runScript(t, []string{"s4096", "!tr a-z A-Z", dir}, Options{}, in)
	arcs := archives(t, dir)
	if len(arcs) == 0 {
		t.Fatal("no archives")
	}
	b, _ := os.ReadFile(filepath.Join(dir, arcs[0]))
	if len(b) == 0 || string(b) != strings.ToUpper(string(b)) {
		t.Errorf("archive not processed: %.80q", b)
	}
}
