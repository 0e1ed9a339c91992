package execline

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestParseEnvfile(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want [][2]string
		line int // error line, 0 for success
	}{
		{"A=1\n", [][2]string{{"A", "1"}}, 0},
		{" B = 2 \n", [][2]string{{"B", "2"}}, 0},
		{"# c\n  # c2\n\nA=1\n\n", [][2]string{{"A", "1"}}, 0},
		{"G=x # not a comment\n", [][2]string{{"G", "x # not a comment"}}, 0},
		{`C="q \" x"` + "\n", [][2]string{{"C", `q " x`}}, 0},
		{"M = \" a \" b \n", [][2]string{{"M", " a  b"}}, 0},
		{"D=a\\\nb\n", [][2]string{{"D", "ab"}}, 0},
		{"E=\n", [][2]string{{"E", ""}}, 0},
		{"H==x\n", [][2]string{{"H", "=x"}}, 0},
		{"I=a\tb\n", [][2]string{{"I", "a\tb"}}, 0},
		{`K="a\tb\101\x41\0101\777\q"` + "\n", [][2]string{{"K", "a\tbAA\b1\xffq"}}, 0},
		{`K="a\0b"` + "\n", [][2]string{{"K", "a"}}, 0},
		{`K="\x4g"` + "\n", nil, 1},
		{`M=a\ b a\"b a\\b` + "\n", [][2]string{{"M", `a b a"b a\b`}}, 0},
		{"O=1\r\n", [][2]string{{"O", "1"}}, 0},
		{"N=1", [][2]string{{"N", "1"}}, 0},
		{"A.b-c:d/e=1\n", [][2]string{{"A.b-c:d/e", "1"}}, 0},
		{"A=b\x00c\n", [][2]string{{"A", "b"}}, 0},
		{"A=1\nA=2\n", [][2]string{{"A", "1"}, {"A", "2"}}, 0},
		{"A=1\nB\n", nil, 2},
		{";c\n", nil, 1},
		{"=b\n", nil, 1},
		{"A b=1\n", nil, 1},
		{`A\=b` + "\n", nil, 1},
		{`J=a\tb` + "\n", nil, 1},
		{"A=\"x\n", nil, 1},
		{"A=\"a\nb\"\n", nil, 1},
		{"X=1\\\n\nA=\"x\n", nil, 3},
	} {
		got, err := ParseEnvfile([]byte(tc.in))
		if tc.line > 0 {
			var ee *EnvfileError
			if !errors.As(err, &ee) || ee.Line != tc.line {
				t.Errorf("ParseEnvfile(%q) = %v, %v; want an error on line %d", tc.in, got, err, tc.line)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseEnvfile(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestEnvfileMatchesDebian feeds the same files to Debian's envfile.
func TestEnvfileMatchesDebian(t *testing.T) {
	ref := requireTool(t, filepath.Join(debianBin, "envfile"))
	dir := t.TempDir()
	for _, in := range []string{
		" B = 2 \n", "G=x # n\n", "M = \" a \" b \n", "D=a\\\nb\n", `K="a\tb\101\0x41"` + "\n",
		`M=a\ b a\"b a\\b` + "\n", "O=1\r\n", "A=1\nB\n", `J=a\tb` + "\n", "A=\"a\nb\"\n", "\t A\t=\tb\t\n",
		"A=\\\n", `A=\x` + "\n", "E=\n", `K="\0101\777\400x\08"` + "\n", `K="\x4g"` + "\n", `K="\1234\e"` + "\n", "A=\x01x\x01\n", "A=\vx\v\n", "A\x01=x\n", "A=x\x7f\n", "\rA\r=\rx\r\n",
	} {
		f := filepath.Join(dir, "ef")
		if err := os.WriteFile(f, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(ref, f, "/usr/bin/env").Output()
		var env Env
		if err == nil {
			env = Env(strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
		}
		kvs, perr := ParseEnvfile([]byte(in))
		if (err != nil) != (perr != nil) {
			t.Errorf("envfile %q: debian error %v, ours %v", in, err, perr)
			continue
		}
		for _, kv := range kvs {
			if v, ok := env.Get(kv[0]); !ok || v != kv[1] {
				t.Errorf("envfile %q: %s = %q, debian has %q (%v)", in, kv[0], kv[1], v, ok)
			}
		}
	}
}

func FuzzParseEnvfile(f *testing.F) {
	for _, s := range []string{"A=1\n", "# c\n B = \"x\\ty\" z \n", "D=a\\\nb", "A=\"x", "=", "A b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		kvs, err := ParseEnvfile(b)
		if err != nil {
			return
		}
		for _, kv := range kvs {
			if kv[0] == "" || strings.ContainsAny(kv[0], "=\x00") || strings.ContainsRune(kv[1], 0) {
				t.Fatalf("bad assignment %q", kv)
			}
		}
	})
}

func TestEnvdirValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		o    EnvdirOptions
		want string
		set  bool
	}{
		{"", EnvdirOptions{}, "", false},
		{"\n", EnvdirOptions{}, "", true},
		{"value  \t\nsecond\n", EnvdirOptions{}, "value", true},
		{"value  \nsecond\n", EnvdirOptions{NoChomp: true}, "value  ", true},
		{"a\x00b\n", EnvdirOptions{}, "a\nb", true},
		{"a\x00b\n", EnvdirOptions{NullIs: '_'}, "a_b", true},
		{"l1\nl2 \n", EnvdirOptions{Verbatim: true}, "l1\nl2 ", true},
		{"l1\nl2\n", EnvdirOptions{Verbatim: true, NoChomp: true}, "l1\nl2\n", true},
	} {
		got, set := EnvdirValue([]byte(tc.in), tc.o)
		if got != tc.want || set != tc.set {
			t.Errorf("EnvdirValue(%q, %+v) = %q, %v; want %q, %v", tc.in, tc.o, got, set, tc.want, tc.set)
		}
	}
}

// TestEnvdirMatchesS6 compares envdir with Debian's s6-envdir.
func TestEnvdirMatchesS6(t *testing.T) {
	ref := requireTool(t, "/usr/bin/s6-envdir")
	ours := filepath.Join(ourBin(t), "envdir")
	dir := t.TempDir()
	ed := filepath.Join(dir, "env")
	os.Mkdir(ed, 0o755)
	files := map[string]string{
		"PLAIN":    "value\n",
		"TRAIL":    "spaces \t \nsecond line\n",
		"MULTI":    "l1\nl2\n\n",
		"NUL":      "a\x00b\n",
		"EMPTY":    "",
		"NONL":     "x",
		"BLANK1":   "\nnext\n",
		".hidden":  "no\n",
		"a=b":      "no\n",
		"LONG":     strings.Repeat("x", 5000) + "\n",
		"LONGLINE": strings.Repeat("y", 300) + "\n" + strings.Repeat("z", 5000),
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(ed, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range [][]string{nil, {"-n"}, {"-f"}, {"-fn"}, {"-c", "_"}, {"-I"}, {"-L"}, {"-fL"}} {
		if len(opts) > 0 && strings.Contains(opts[0], "L") {
			// s6-envdir -L gives an empty value for a file without a
			// final newline; we keep the data (see docs/envdir.md).
			os.Remove(filepath.Join(ed, "NONL"))
		}
		for _, d := range []string{ed, filepath.Join(dir, "missing")} {
			args := append(append([]string{}, opts...), d, "/usr/bin/env")
			env := []string{"EMPTY=was set", "PATH=/usr/bin:/bin"}
			r1, c1 := runEnv(t, ref, args, env)
			r2, c2 := runEnv(t, ours, args, env)
			if c1 != c2 {
				t.Errorf("envdir %q: ours exit %d, s6 exit %d", args, c2, c1)
			}
			l1 := strings.Split(sortedLines(r1), "\n")
			l2 := strings.Split(sortedLines(r2), "\n")
			if len(l1) != len(l2) {
				t.Errorf("envdir %q: ours sets %d variables, s6 %d", args, len(l2), len(l1))
				continue
			}
			for i := range l1 {
				if l1[i] != l2[i] {
					t.Errorf("envdir %q: ours %.60q (%d bytes), s6 %.60q (%d bytes)", args, l2[i], len(l2[i]), l1[i], len(l1[i]))
				}
			}
		}
	}
	// a subdirectory is an error for both
	os.Mkdir(filepath.Join(ed, "SUB"), 0o755)
	_, c1 := runEnv(t, ref, []string{ed, "true"}, nil)
	_, c2 := runEnv(t, ours, []string{ed, "/usr/bin/true"}, nil)
	if c1 != c2 {
		t.Errorf("envdir with a subdirectory: ours %d, s6 %d", c2, c1)
	}
}

func runEnv(t *testing.T, prog string, args, env []string) (string, int) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestSetuidgidMatchesS6 compares credentials with s6-setuidgid (root only).
func TestSetuidgidMatchesS6(t *testing.T) {
	ref := requireTool(t, "/usr/bin/s6-setuidgid")
	if os.Geteuid() != 0 {
		t.Fatal("needs root to change credentials: run the tests as root")
	}
	ours := filepath.Join(ourBin(t), "setuidgid")
	for _, acct := range []string{"nobody", "daemon", "1:1", "65534:65534", "nosuchuser", "1:", "1:2:3,4"} {
		r1, c1 := runEnv(t, ref, []string{acct, "/usr/bin/id"}, nil)
		r2, c2 := runEnv(t, ours, []string{acct, "/usr/bin/id"}, nil)
		if r1 != r2 || c1 != c2 {
			t.Errorf("setuidgid %s: ours %d %q, s6 %d %q", acct, c2, r2, c1, r1)
		}
	}
	// our extension: user:group
	r, c := runEnv(t, ours, []string{"daemon:nogroup", "/usr/bin/id"}, nil)
	if c != 0 || !strings.HasPrefix(r, "uid=1(daemon) gid=65534(nogroup) groups=65534(nogroup)") {
		t.Errorf("setuidgid daemon:nogroup: exit %d, %q", c, r)
	}
}

func TestResolveAccount(t *testing.T) {
	fs := fakeFiles{
		"/etc/passwd": "root:x:0:0::/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n# comment\nbad:x:y:z::/:/\n",
		"/etc/group":  "root:x:0:\nusers:x:100:\nwheel:x:10:bob,alice\naudio:x:29:alice\nvideo:x:44:bob\n",
	}
	for _, tc := range []struct {
		spec string
		want Account
		err  error
	}{
		{"alice", Account{1000, 100, []int{100, 10, 29}}, nil},
		{"root", Account{0, 0, []int{0}}, nil},
		{"5:6", Account{5, 6, []int{6}}, nil},
		{"alice:wheel", Account{1000, 10, []int{10}}, nil},
		{"alice:7", Account{1000, 7, []int{7}}, nil},
		{"bob", Account{}, errUnknown},
		{"alice:nogroup", Account{}, errUnknown},
		{"1:", Account{}, errInvalid},
		{":1", Account{}, errInvalid},
		{"1:2:3", Account{}, errInvalid}, // s6-setuidgid: usage error too
		{"alice:wheel:audio", Account{}, errInvalid},
	} {
		got, err := ResolveAccount(fs, tc.spec)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("ResolveAccount(%q) error %v, want %v", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ResolveAccount(%q) = %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

// fakeFiles is a Sys that only reads files (the rest panics if called).
type fakeFiles map[string]string

func (f fakeFiles) ReadFile(p string, limit int) ([]byte, error) {
	s, ok := f[p]
	if !ok {
		return nil, os.ErrNotExist
	}
	return []byte(s), nil
}

func (fakeFiles) Open(string, int, uint32) (int, error)         { panic("unused") }
func (fakeFiles) OpenFIFOWriter(string, int, bool) (int, error) { panic("unused") }
func (fakeFiles) Dup2(int, int) error                           { panic("unused") }
func (fakeFiles) Dup(int) (int, error)                          { panic("unused") }
func (fakeFiles) Close(int) error                               { panic("unused") }
func (fakeFiles) SetNonblock(int, bool) error                   { panic("unused") }
func (fakeFiles) Chdir(string) error                            { panic("unused") }
func (fakeFiles) Umask(int) int                                 { panic("unused") }
func (fakeFiles) SetIDs(int, int, []int) error                  { panic("unused") }
func (fakeFiles) ReadDirNames(string) ([]string, error)         { panic("unused") }
func (fakeFiles) Exec(string, []string, []string) error         { panic("unused") }
func (fakeFiles) Spawn(string, []string, []string) (int, error) { panic("unused") }
func (fakeFiles) Wait(int) (syscall.WaitStatus, error)          { panic("unused") }
func (fakeFiles) Access(string) error                           { panic("unused") }
