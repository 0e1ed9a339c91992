package execline

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/svinit/svinit/internal/testutil"
)

// Debian's execline keeps its programs here; /usr/bin/execlineb is a
// wrapper adding this directory to PATH.
const debianBin = "/usr/lib/execline/bin"

// requireTool returns the path of a reference tool; the test fails when
// it is missing (make test installs execline and s6 as root).
func requireTool(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("reference tool %s not installed: %v (apt-get install execline s6)", path, err)
	}
	return path
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// ourBin builds execlineb and the standalone loaders once per test run.
func ourBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "execline-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		pkgs := []string{"execlineb", "redirfd", "fdmove", "fdclose", "fdswap", "export", "unexport",
			"cd", "umask", "envfile", "envdir", "setuidgid", "emptyenv", "foreground", "background"}
		for i, p := range pkgs {
			pkgs[i] = "./cmds/" + p
		}
		buildErr = testutil.GoBuild(dir, nil, pkgs...)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type result struct {
	out, err string
	code     int
}

// run runs an execlineb (ours or Debian's) with args in dir.
func run(t *testing.T, debian bool, dir string, env []string, args ...string) result {
	t.Helper()
	var path, prog string
	if debian {
		prog = filepath.Join(requireTool(t, debianBin), "execlineb")
		path = debianBin + ":/usr/bin:/bin"
	} else {
		b := ourBin(t)
		prog = filepath.Join(b, "execlineb")
		path = b + ":/usr/bin:/bin"
	}
	cmd := exec.Command(prog, args...)
	cmd.Args[0] = "execlineb"
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + path}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run %q: %v", args, err)
		}
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	return result{o.String(), e.String(), code}
}

// normalize makes outputs comparable: the binary directories differ.
func normalize(s string, dirs ...string) string {
	for _, d := range dirs {
		s = strings.ReplaceAll(s, d, "BIN")
	}
	return s
}

func sortedLines(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// TestParseMatchesDebian checks the words execlineb makes from scripts
// against Debian's execlineb, using printf to show them.
func TestParseMatchesDebian(t *testing.T) {
	requireTool(t, debianBin)
	for _, s := range []string{
		`a  b "c d" e"f"g "" x`,
		`"\a\b\t\n\v\f\r\\\"\q" "\0101" "\012x" "\0x41" "\0x414" "\101" "\1000" "\8" "\18" "\255"`,
		"a\\ b a\\\"b a\\\\b a\\tb \\{ \\} a\\\nb \"a\\\nb\"",
		"x{ }x {x a#b # comment\nnext",
		`{ a "" { b } c } { } { { { x } } } { "}" \} }`,
		"if {\n  foreground { echo a }\n} echo b",
		"a\rb\x01c\x1fd\x7fe\xa0f\vg\fh",
		"a \\\nb \\\n\\\n c\\\n \\\n# c\nd \\\n{ e \\\n}",
	} {
		script := `printf %s\\0 X ` + s
		dir := t.TempDir()
		d := run(t, true, dir, nil, "-P", "-c", script)
		if d.code != 0 {
			t.Fatalf("debian execlineb failed on %q: %+v", s, d)
		}
		want := strings.Split(strings.TrimSuffix(d.out, "\x00"), "\x00")[1:]
		got, err := Parse("x", []byte(s))
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("Parse(%q) = %q, debian gives %q", s, got, want)
		}
		o := run(t, false, dir, nil, "-P", "-c", script)
		if o != d {
			t.Errorf("script %q: ours %+v, debian %+v", s, o, d)
		}
	}
}

// TestMatchesDebian runs the same scripts through both execlinebs and
// compares standard output and exit code (error messages differ on
// purpose: ours name the file, line and word).
func TestMatchesDebian(t *testing.T) {
	requireTool(t, debianBin)
	ours := ourBin(t)
	for _, tc := range []struct {
		name   string
		args   []string
		sorted bool // compare sorted lines (env output)
	}{
		// redirfd
		{"redirfd w a r", []string{"-P", "-c", `foreground { redirfd -w 1 out echo hi } foreground { redirfd -a 1 out echo there } redirfd -r 0 out cat`}, false},
		{"redirfd w truncates", []string{"-P", "-c", `foreground { redirfd -w 1 out echo long line } foreground { redirfd -w 1 out echo x } cat out`}, false},
		{"redirfd u", []string{"-P", "-c", `foreground { redirfd -w 1 out echo abcdef } foreground { redirfd -u 1 out echo X } cat out`}, false},
		{"redirfd x", []string{"-P", "-c", `foreground { redirfd -x 1 out echo a } foreground { redirfd -x 1 out echo b } foreground { printenv ? } cat out`}, false},
		{"redirfd missing dir", []string{"-P", "-c", `redirfd -w 1 nodir/x echo`}, false},
		{"redirfd usage", []string{"-P", "-c", `redirfd -w x out echo`}, false},
		{"redirfd no prog", []string{"-P", "-c", `redirfd -w 1 out`}, false},
		{"redirfd flags w", []string{"-P", "-c", `redirfd -w 3 out grep flags /proc/self/fdinfo/3`}, false},
		{"redirfd flags rn", []string{"-P", "-c", `foreground { mkfifo fifo } redirfd -rn 3 fifo grep flags /proc/self/fdinfo/3`}, false},
		{"redirfd flags rnb", []string{"-P", "-c", `foreground { mkfifo fifo } redirfd -rnb 3 fifo grep flags /proc/self/fdinfo/3`}, false},
		{"redirfd fifo wn no reader", []string{"-P", "-c", `foreground { mkfifo fifo } redirfd -wn 3 fifo grep flags /proc/self/fdinfo/3`}, false},
		{"redirfd fifo wnb no reader", []string{"-P", "-c", `foreground { mkfifo fifo } redirfd -wnb 3 fifo grep flags /proc/self/fdinfo/3`}, false},
		{"redirfd fifo wnb write without reader", []string{"-P", "-c", `foreground { mkfifo fifo } foreground { redirfd -wnb 1 fifo echo x } printenv ?`}, false},
		{"redirfd fifo with reader", []string{"-P", "-c", `foreground { mkfifo fifo } background { redirfd -r 0 fifo cat } redirfd -w 1 fifo echo hello`}, false},
		// fd juggling
		{"fdmove copy", []string{"-P", "-c", `fdmove -c 3 1 sh -c "echo three >&3; echo one"`}, false},
		{"fdmove move", []string{"-P", "-c", `fdmove 3 1 sh -c "echo three >&3; echo one 2>/dev/null || echo closed >&3"`}, false},
		{"fdmove same", []string{"-P", "-c", `fdmove 1 1 echo same`}, false},
		{"fdmove bad", []string{"-P", "-c", `fdmove 1 99 echo x`}, false},
		{"fdswap", []string{"-P", "-c", `fdswap 1 2 sh -c "echo to2 >&2"`}, false},
		{"fdswap bad", []string{"-P", "-c", `fdswap 1 99 echo x`}, false},
		{"fdclose", []string{"-P", "-c", `fdclose 1 sh -c "echo x 2>/dev/null"`}, false},
		{"fdclose then redirect", []string{"-P", "-c", `fdclose 0 redirfd -r 0 /etc/passwd fdmove -c 3 0 sh -c "cat <&3"`}, false},
		// environment
		{"export", []string{"-P", "-c", `export A "a b" unexport HOME env`}, true},
		{"export bad", []string{"-P", "-c", `export A=B x env`}, false},
		{"unexport", []string{"-P", "-c", `unexport A env`}, true},
		{"emptyenv", []string{"-P", "-c", `emptyenv env`}, false},
		{"emptyenv p", []string{"-P", "-c", `emptyenv -p env`}, false},
		{"emptyenv c", []string{"-P", "-c", `export EXECLINE_STRICT 1 export ELGETOPT_x 1 export 1:1 a emptyenv -c env`}, true},
		{"emptyenv P", []string{"-c", `execlineb -c "emptyenv -P env" x`, "a", "b"}, true},
		{"emptyenv o", []string{"-P", "-c", `export ELGETOPT_x 1 export ELGETOPT_x:1 0 emptyenv -o env`}, true},
		{"push", []string{"-c", `execlineb -c "execlineb -c env z" x`, "a", "b"}, true},
		{"push p", []string{"-c", `execlineb -p -c env x`, "a", "b"}, true},
		{"PATH of the previous link", []string{"-P", "-c", `export PATH /nonexistent echo x`}, false},
		{"PATH of the previous link 2", []string{"-P", "-c", `export PATH /nonexistent export A b echo x`}, false},
		{"envfile", []string{"-P", "-c", `foreground { redirfd -w 1 ef printf "# c\n A = 1 \nB=\"q \\\" x\" y \nC=a\\\nb\nD=\n" } envfile ef env`}, true},
		{"envfile syntax", []string{"-P", "-c", `foreground { redirfd -w 1 ef printf "A=1\nB\n" } envfile ef env`}, false},
		{"envfile missing", []string{"-P", "-c", `envfile nofile env`}, false},
		{"envfile missing I", []string{"-P", "-c", `envfile -I nofile echo ok`}, false},
		// process state
		{"cd", []string{"-P", "-c", `cd / pwd`}, false},
		{"cd missing", []string{"-P", "-c", `cd /nonexistent pwd`}, false},
		{"umask", []string{"-P", "-c", `umask 027 sh -c umask`}, false},
		{"umask big", []string{"-P", "-c", `umask 0777777 sh -c umask`}, false},
		{"umask bad", []string{"-P", "-c", `umask 8 sh -c umask`}, false},
		{"umask applies to redirfd", []string{"-P", "-c", `umask 077 foreground { redirfd -w 1 out true } stat -c %a out`}, false},
		{"exec a", []string{"-P", "-c", `exec -a foo sh -c "echo $0"`}, false},
		{"exec l", []string{"-P", "-c", `exec -l -a foo sh -c "echo $0"`}, false},
		{"exec c", []string{"-P", "-c", `export A 1 exec -c env`}, false},
		// forking loaders
		{"if true", []string{"-P", "-c", `if { true } echo ok`}, false},
		{"if false", []string{"-P", "-c", `if { false } echo ok`}, false},
		{"if code", []string{"-P", "-c", `if { sh -c "exit 3" } echo ok`}, false},
		{"if n", []string{"-P", "-c", `if -n { false } echo ok`}, false},
		{"if n true", []string{"-P", "-c", `if -n { true } echo ok`}, false},
		{"if t", []string{"-P", "-c", `if -t { false } echo ok`}, false},
		{"if x", []string{"-P", "-c", `if -x 7 { sh -c "exit 3" } echo ok`}, false},
		{"if crash", []string{"-P", "-c", `if { sh -c "kill $$" } echo ok`}, false},
		{"if X crash", []string{"-P", "-c", `if -X { sh -c "kill $$" } echo ok`}, false},
		{"if nonexistent", []string{"-P", "-c", `if { nonexistent } echo ok`}, false},
		{"if empty rest", []string{"-P", "-c", `if { true }`}, false},
		{"if unterminated", []string{"-P", "-c", `if true`}, false},
		{"foreground codes", []string{"-P", "-c", `foreground { sh -c "exit 3" } foreground { printenv ? } foreground { sh -c "kill $$" } foreground { printenv ? } foreground { nonexistent } printenv ?`}, false},
		{"foreground empty rest", []string{"-P", "-c", `foreground { false }`}, false},
		{"nested blocks", []string{"-P", "-c", `if { if { true } foreground { echo inner } } foreground { if -n { false } echo "in fg" } echo outer`}, false},
		{"builtins in blocks", []string{"-P", "-c", `foreground { export X y cd / redirfd -w 2 /dev/null fdmove -c 2 1 sh -c "echo $X; pwd >&2" } printenv X`}, false},
		{"block state does not leak", []string{"-P", "-c", `foreground { cd / true } foreground { umask 077 true } sh -c "pwd; umask"`}, false},
		{"strict unquoted block", []string{"-P", "-W", "-c", `foreground { echo x } echo y`}, false},
		// positional parameters
		{"S", []string{"-S2", "-c", `echo $1 ${2}x $# $@ $0`, "a", "b", "c"}, false},
		{"s", []string{"-s1", "-c", `echo $1 $# $@`, "a", "b", "c"}, false},
		{"S too few", []string{"-S3", "-c", `echo [${3}] $# $@`, "a"}, false},
		{"S cartesian", []string{"-S1", "-c", `printf %s, x$@y \$1 \\$1`, "a", "b"}, false},
		{"S in blocks", []string{"-S1", "-c", `foreground { echo $1 $@ } echo done`, "a", "b"}, false},
		{"P ignores", []string{"-P", "-c", `echo $1 $@`, "a"}, false},
		// execution
		{"empty script", []string{"-P", "-c", "# nothing\n"}, false},
		{"not found", []string{"-P", "-c", `nonexistent-program`}, false},
		{"not executable", []string{"-P", "-c", `/etc/passwd`}, false},
		{"syntax error", []string{"-P", "-c", `echo "x`}, false},
		{"unmatched", []string{"-P", "-c", `echo }`}, false},
		{"missing script", []string{"-P", "nonexistent-script"}, false},
		{"usage", []string{"-Z", "x"}, false},
		{"no -c argument", []string{"-c"}, false},
		{"combined options", []string{"-PS1", "-c", `echo $1`, "x"}, false},
		{"separate option argument", []string{"-S", "2", "-c", `echo $2`, "a", "b"}, false},
		{"empty program name", []string{"-P", "-c", `"" a`}, false},
		{"option after operands is a program", []string{"-P", "-c", `redirfd -r 0 /dev/null -n cat`}, false},
		{"if bad exit code", []string{"-P", "-c", `if -x 300 { false } echo`}, false},
		{"if n x", []string{"-P", "-c", `if -n -x 3 { true } echo`}, false},
		{"strict 2 dies", []string{"-W", "-P", "-c", `foreground echo x "" echo y`}, false},
		{"strict 1 warns", []string{"-w", "-P", "-c", `foreground echo x "" echo y`}, false},
		{"strict 0", []string{"-q", "-P", "-c", `foreground echo x "" printenv EXECLINE_STRICT`}, false},
		{"strict env", []string{"-W", "-P", "-c", `printenv EXECLINE_STRICT`}, false},
		{"fdswap same", []string{"-P", "-c", `fdswap 1 1 echo s`}, false},
		{"fdclose negative", []string{"-P", "-c", `fdclose -1 true`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := []string{"A=1", "HOME=/root"}
			d := run(t, true, dir, env, tc.args...)
			dir2 := t.TempDir()
			o := run(t, false, dir2, env, tc.args...)
			do, oo := normalize(d.out, debianBin, dir), normalize(o.out, ours, dir2)
			if tc.sorted {
				do, oo = sortedLines(do), sortedLines(oo)
			}
			if do != oo || d.code != o.code {
				t.Errorf("execlineb %q:\nours:   code %d, out %q, err %q\ndebian: code %d, out %q, err %q",
					tc.args, o.code, oo, o.err, d.code, do, d.err)
			}
		})
	}
}

func TestScriptFile(t *testing.T) {
	dir := t.TempDir()
	ours := ourBin(t)
	script := filepath.Join(dir, "run")
	src := "#!" + ours + "/execlineb -S1\n# a service\nforeground { echo $0 $1 }\n\nfdmove -c 2 1\necho \"x\" \"y\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "arg")
	out, err := cmd.CombinedOutput()
	want := "execlineb: " + script + ": line 6, word 3: unterminated string\n"
	if err == nil || string(out) != want {
		t.Errorf("script with a syntax error: %v, output %q, want %q", err, out, want)
	}
	src = "#!" + ours + "/execlineb -S1\nforeground { echo $0 $1 }\nfdmove -c 2 1\necho done\n"
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(script, "arg").CombinedOutput()
	if err != nil || string(out) != script+" arg\ndone\n" {
		t.Errorf("script: %v, output %q", err, out)
	}
}

// TestExecPid checks that the chain ends with an execve: the final
// program has execlineb's pid.
func TestExecPid(t *testing.T) {
	ours := ourBin(t)
	cmd := exec.Command(filepath.Join(ours, "execlineb"), "-P", "-c", `redirfd -w 2 /dev/null export X 1 cd / sh -c "echo $$"`)
	var o bytes.Buffer
	cmd.Stdout = &o
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(o.String()), itoa(cmd.Process.Pid); got != want {
		t.Errorf("final program pid %s, execlineb pid %s", got, want)
	}
}

func TestBackground(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"", "-d"} {
		r := run(t, false, dir, nil, "-P", "-c", `background `+d+` { redirfd -w 1 bg`+d+` echo bg } printenv !`)
		if r.code != 0 || !regexp.MustCompile(`^[0-9]+\n$`).MatchString(r.out) {
			t.Errorf("background %s: %+v", d, r)
		}
	}
}

// TestStandalone runs the standalone commands the way execline's are
// used: options, then the rest of the command line.
func TestStandalone(t *testing.T) {
	ours := ourBin(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		argv []string
		out  string
		code int
	}{
		{[]string{"redirfd", "-w", "1", "f", "fdmove", "-c", "2", "1", "sh", "-c", "echo x >&2"}, "", 0},
		{[]string{"redirfd", "-r", "0", "f", "cat"}, "x\n", 0},
		{[]string{"redirfd", "-c", "1", "f", "echo", "y"}, "", 0}, // ours only: -c
		{[]string{"redirfd", "-c", "1", "nofile", "echo", "y"}, "", 111},
		{[]string{"foreground", " sh", " -c", " exit 4", "", "printenv", "?"}, "4\n", 0},
		{[]string{"foreground", " if", "  false", " ", " echo", " no", "", "printenv", "?"}, "1\n", 0},
		{[]string{"background", " true", "", "echo", "ok"}, "ok\n", 0},
		{[]string{"export", "X", "1", "printenv", "X"}, "1\n", 0},
		{[]string{"fdmove"}, "", 100},
		{[]string{"umask", "022", "nonexistent"}, "", 127},
	} {
		cmd := exec.Command(filepath.Join(ours, tc.argv[0]), tc.argv[1:]...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + ours + ":/usr/bin:/bin"}
		out, err := cmd.Output()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if string(out) != tc.out || code != tc.code {
			t.Errorf("%q: code %d out %q, want %d %q (%v)", tc.argv, code, out, tc.code, tc.out, err)
		}
	}
}

// TestRuntimeFDGuard starts execlineb with a non-blocking stdin, which
// makes the Go runtime open its poller at startup, then has scripts
// replace or close every low descriptor: none may crash the runtime.
func TestRuntimeFDGuard(t *testing.T) {
	ref := requireTool(t, filepath.Join(debianBin, "redirfd"))
	ours := ourBin(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := 0
	for fd := 3; fd <= 9; fd++ {
		for _, script := range []string{
			"fdclose " + itoa(fd) + " foreground { true } true",
			"redirfd -w " + itoa(fd) + " /dev/null foreground { true } true",
			"fdmove -c " + itoa(fd) + " 1 foreground { true } true",
		} {
			cmd := exec.Command(ref, "-rn", "0", fifo, filepath.Join(ours, "execlineb"), "-P", "-c", script)
			var e bytes.Buffer
			cmd.Stderr = &e
			err := cmd.Run()
			if strings.Contains(e.String(), "fatal error") || strings.Contains(e.String(), "panic") {
				t.Errorf("%q crashed the runtime: %s", script, e.String())
			}
			if err != nil {
				if !strings.Contains(e.String(), "in use by the Go runtime") {
					t.Errorf("%q: %v: %s", script, err, e.String())
				}
				refused++
			}
		}
	}
	t.Logf("%d operations on runtime descriptors refused", refused)
}

// TestRuntimeErrorPositions: a built-in that fails, or a program that
// cannot be executed, is named by its line and word in the script, as
// syntax errors are; exit codes stay the built-in's or execline's.
func TestRuntimeErrorPositions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-P", "-c", "export A 1\nfdmove 1 x echo"}, "execlineb: -c script: line 2, word 1: fdmove: usage: fdmove [ -c ] to from prog...\n", 100},
		{[]string{"-P", "-c", "foreground { true }\n  redirfd -w 1 /nonexistent/x echo"}, "execlineb: -c script: line 2, word 1: redirfd: /nonexistent/x: unable to open for writing: no such file or directory\n", 111},
		{[]string{"-P", "-c", "cd / nonexistent-program a"}, "execlineb: -c script: line 1, word 3: nonexistent-program: unable to exec: no such file or directory\n", 127},
		{[]string{"-P", "-c", "umask 022\n/etc/passwd"}, "execlineb: -c script: line 2, word 1: /etc/passwd: unable to exec: permission denied\n", 126},
		// the positions survive -S substitution, $@ making several words
		{[]string{"-S1", "-c", "export X $1\n\nfdmove $2 1 true", "a", "b"}, "execlineb: -c script: line 3, word 1: fdmove: usage: fdmove [ -c ] to from prog...\n", 100},
		{[]string{"-S1", "-c", "export $@ fdclose $1 true", "a", "b"}, "execlineb: -c script: line 1, word 3: fdclose: usage: fdclose fd prog...\n", 100},
		// a failing if block exits quietly, as in execline
		{[]string{"-P", "-c", "if { false } echo"}, "", 1},
	} {
		r := run(t, false, dir, nil, tc.args...)
		if r.err != tc.want || r.code != tc.code {
			t.Errorf("execlineb %q: code %d, stderr %q; want %d, %q", tc.args, r.code, r.err, tc.code, tc.want)
		}
	}
	// A script file is named by its path.
	script := filepath.Join(dir, "run")
	if err := os.WriteFile(script, []byte("#!/bin/execlineb -P\nfdmove -c 3 1\nfdswap 1\nsomething\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, false, dir, nil, "-P", script)
	if want := "execlineb: " + script + ": line 3, word 1: fdswap: usage: fdswap fd1 fd2 prog...\n"; r.err != want || r.code != 100 {
		t.Errorf("script file: code %d, stderr %q; want 100, %q", r.code, r.err, want)
	}
}
