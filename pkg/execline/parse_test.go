package execline

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"blanks", " \t\n\r\n ", nil},
		{"control characters separate", "a\rb\x01c\x1fd\x7fe\xa0f", []string{"a", "b", "c", "d\x7fe\xa0f"}},
		{"words", "echo a  b\tc\nd", []string{"echo", "a", "b", "c", "d"}},
		{"shebang", "#!/bin/execlineb -P\necho hi\n", []string{"echo", "hi"}},
		{"comment", "echo a # comment b\nc", []string{"echo", "a", "c"}},
		{"hash inside word", "a#b #c", []string{"a#b"}},
		{"quoted hash", `"#x" y`, []string{"#x", "y"}},
		{"quotes", `a"b c"d`, []string{"ab cd"}},
		{"empty quotes", `"" x`, []string{"", "x"}},
		{"quoted newline", "\"a\nb\"", []string{"a\nb"}},
		{"escapes", `"\a\b\t\n\v\f\r\\\"\q"`, []string{"\a\b\t\n\v\f\r\\\"q"}},
		{"line continuation in string", "\"a\\\nb\"", []string{"ab"}},
		{"octal", `"\0101" "\012x" "\01012" "\07x"`, []string{"A", "\nx", "A2", "\ax"}},
		{"hex", `"\0x41" "\0x414" "\0xFF" "\0x4"`, []string{"A", "A4", "\xff", "\x04"}},
		{"decimal", `"\101" "\1000" "\8" "\255"`, []string{"e", "d0", "\b", "\xff"}},
		{"unquoted backslash", `a\ b a\"b a\\b a\tb \{ \}`, []string{"a b", `a"b`, `a\b`, "atb", "{", "}"}},
		{"unquoted backslash newline", "a\\\nb", []string{"a\nb"}},
		{"line continuation between words", "a \\\nb \\\n\\\n c\\\n", []string{"a", "b", "c\n"}},
		{"line continuation then comment", "a \\\n# c\nb", []string{"a", "b"}},
		{"line continuation then block", "x \\\n{ y \\\n}", []string{"x", " y", ""}},
		{"lone line continuation", "\\\n", nil},
		{"brace words", "x{ }x {x", []string{"x{", "}x", "{x"}},
		{"block", "foreground { echo a } echo b", []string{"foreground", " echo", " a", "", "echo", "b"}},
		{"empty block", "if { } x", []string{"if", "", "x"}},
		{"nested", `{ a "" { b } c }`, []string{" a", " ", "  b", " ", " c", ""}},
		{"deep", "{ { { x } } }", []string{"   x", "  ", " ", ""}},
		{"quoted braces in block", `{ "}" \} "{" }`, []string{" }", " }", " {", ""}},
		{"multiline block", "if {\n  true\n}\necho ok", []string{"if", " true", "", "echo", "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("script", []byte(tc.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in   string
		line, word int
		msg        string
	}{
		{"unterminated", "echo a\nfoo bar \"baz\n\nqux", 2, 3, "unterminated string"},
		{"unmatched close", "a\nb }", 2, 2, "unmatched }"},
		{"unmatched open", "if {\n true\n", 1, 2, "unmatched {"},
		{"inner unmatched open", "if { a {\n } ", 1, 2, "unmatched {"},
		{"lone open", "{", 1, 1, "unmatched {"},
		{"backslash at end", "a b\\", 1, 2, "backslash at end of script"},
		{"escape at end of string", `a "b\`, 1, 2, "unterminated string"},
		{"nul escape", `x "\0"`, 1, 2, "invalid escape sequence"},
		{"nul octal", `"\000"`, 1, 1, "out of range"},
		{"big octal", `"\0400"`, 1, 1, "out of range"},
		{"bad octal", `"\08"`, 1, 1, "invalid escape sequence"},
		{"empty hex", `"\0x"`, 1, 1, "invalid escape sequence"},
		{"zero hex", `"\0x0"`, 1, 1, "out of range"},
		{"big decimal", `"\256"`, 1, 1, "out of range"},
		{"nul byte", "echo a\x00b", 1, 2, "NUL"},
		{"line counted after a continuation", "a \\\nb \"c", 2, 2, "unterminated string"},
		{"line counted in strings", "\"a\nb\" c \"d", 2, 3, "unterminated string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/run/service/x/run", []byte(tc.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error = %v, want a *SyntaxError", tc.in, err)
			}
			if se.Line != tc.line || se.Word != tc.word || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("Parse(%q) = %v, want line %d, word %d: %s", tc.in, err, tc.line, tc.word, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "/run/service/x/run: line ") {
				t.Errorf("error %q does not name the script", err)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	vars := PositionalVars("prog", []string{"A", "B"}, 1, false)
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"$1", "${2}", "$#", "$0"}, []string{"A", "B", "2", "prog"}},
		{[]string{"$@"}, []string{"A", "B"}},
		{[]string{"x${@}y"}, []string{"xAy", "xBy"}},
		{[]string{"$@$@"}, []string{"AA", "AB", "BA", "BB"}},
		{[]string{"$1-", "$1a", "$@]", "$1 x"}, []string{"$1-", "$1a", "$@]", "$1 x"}},
		{[]string{"$1{", "$1}", "$1$1", `$1\x`}, []string{"A{", "A}", "AA", `A\x`}},
		{[]string{`\$1`, `\\$1`, `\\\$1`, `\\\\$1`}, []string{"$1", `\A`, `\$1`, `\\A`}},
		{[]string{`\\$9`, `\$`, `a\\b`, "${1", "${}", "$", "$$1"}, []string{`\\$9`, `\$`, `a\\b`, "${1", "${}", "$", "$A"}},
		{[]string{" $1", " x$@", ""}, []string{" A", " xA", " xB", ""}},
		{[]string{"${10}", "$3"}, []string{"${10}", "$3"}},
	} {
		if got := Substitute(tc.in, vars); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Substitute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// no arguments: $@ removes the word, missing positionals are empty
	empty := PositionalVars("p", nil, 2, false)
	if got := Substitute([]string{"a", "x$@", "[${2}]", "$#"}, empty); !reflect.DeepEqual(got, []string{"a", "[]", "0"}) {
		t.Errorf("Substitute without args = %q", got)
	}
	// -s: $@ is what follows the first n
	s := PositionalVars("p", []string{"a", "b", "c"}, 1, true)
	if got := Substitute([]string{"$1", "$@", "$#"}, s); !reflect.DeepEqual(got, []string{"a", "b", "c", "3"}) {
		t.Errorf("Substitute -s1 = %q", got)
	}
}

func TestEnvFrames(t *testing.T) {
	e := Env{"PATH=/bin", "A=1"}
	e.PushPositionals("s", []string{"a", "b"}, true)
	e.PushPositionals("t", []string{"x"}, true)
	e.PushPositionals("u", []string{"z"}, true)
	want := map[string]string{"#": "1", "0": "u", "1": "z", "#:1": "1", "0:1": "t", "1:1": "x",
		"#:2": "2", "0:2": "s", "1:2": "a", "2:2": "b", "PATH": "/bin", "A": "1"}
	checkEnv(t, "push", e, want)
	e.PopPositionals()
	checkEnv(t, "pop", e, map[string]string{"#": "1", "0": "t", "1": "x",
		"#:1": "2", "0:1": "s", "1:1": "a", "2:1": "b", "PATH": "/bin", "A": "1"})
	e.PushPositionals("v", []string{"q"}, false) // -p: overwrite, stale 2:1 stays
	checkEnv(t, "overwrite", e, map[string]string{"#": "1", "0": "v", "1": "q",
		"#:1": "2", "0:1": "s", "1:1": "a", "2:1": "b", "PATH": "/bin", "A": "1"})
	e = append(e, "ELGETOPT_x=1", "EXECLINE_STRICT=2", "ELGETOPT_x:1=0")
	f := e.Clone()
	f.PopElgetopt()
	if v, _ := f.Get("ELGETOPT_x"); v != "0" {
		t.Errorf("PopElgetopt: ELGETOPT_x = %q, want 0", v)
	}
	e.CleanExecline()
	checkEnv(t, "clean", e, map[string]string{"PATH": "/bin", "A": "1"})
}

func checkEnv(t *testing.T, what string, e Env, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, s := range e {
		k, v, _ := strings.Cut(s, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s: duplicate %s in %q", what, k, e)
		}
		got[k] = v
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: env = %v, want %v", what, got, want)
	}
}

func TestGetopt(t *testing.T) {
	for _, tc := range []struct {
		args []string
		spec string
		opts string
		rest []string
		ok   bool
	}{
		{[]string{"p", "-wnb", "1", "f"}, "rwnb", "w n b ", []string{"1", "f"}, true},
		{[]string{"p", "-S3", "x"}, "S:", "S3 ", []string{"x"}, true},
		{[]string{"p", "-S", "3", "x"}, "S:", "S3 ", []string{"x"}, true},
		{[]string{"p", "--", "-x"}, "x", "", []string{"-x"}, true},
		{[]string{"p", "-", "x"}, "x", "", []string{"-", "x"}, true},
		{[]string{"p", "-z"}, "x", "", nil, false},
		{[]string{"p", "-S"}, "S:", "", nil, false},
		{[]string{"p", " -x"}, "x", "", []string{" -x"}, true},
	} {
		opts, rest, _, ok := getopt(tc.args, tc.spec)
		var s string
		for _, o := range opts {
			s += string(o.c) + o.arg + " "
		}
		if ok != tc.ok || (ok && (s != tc.opts || !reflect.DeepEqual(rest, tc.rest))) {
			t.Errorf("getopt(%q) = %q %q %v, want %q %q %v", tc.args, s, rest, ok, tc.opts, tc.rest, tc.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"#!/bin/execlineb -P\nforeground { echo a } echo b\n",
		`"\0x41\0101\101" a\ b { { x } } # c`,
		"if -n { redirfd -w 1 /dev/null true }\nexport A \"B C\" env",
		`"unterminated`, "}", "{", `"\0"`, "a\\",
		"a \\\n{ b \\\n} \\\n\\\n c\\\nd",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		argv, err := Parse("fuzz", b)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Word < 1 || se.Line > bytes.Count(b, []byte("\n"))+1 {
				t.Fatalf("bad error %v", err)
			}
			return
		}
		for _, w := range argv {
			if strings.ContainsRune(w, 0) {
				t.Fatalf("NUL in word %q", w)
			}
		}
		_ = Substitute(argv, PositionalVars("f", []string{"a", "b"}, 1, false))
	})
}

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{`$1`, `\\$@x`, `${@}${1}`, `$#$0`, `\$`, `${`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, w string) {
		vars := PositionalVars("f", []string{"a", "", "c"}, 4, false)
		out := Substitute([]string{w}, vars)
		if !strings.Contains(w, "$") && (len(out) != 1 || out[0] != w) {
			t.Fatalf("word without $ changed: %q -> %q", w, out)
		}
	})
}

func TestNoArgs(t *testing.T) {
	var b strings.Builder
	if err := Execlineb(nil, &b); err == nil {
		t.Error("Execlineb(nil) succeeded")
	}
	if err := Standalone("fdmove", nil, &b); err == nil {
		t.Error("Standalone(fdmove, nil) succeeded")
	}
}

func TestParsePos(t *testing.T) {
	argv, pos, err := ParsePos("s", []byte("#!/bin/execlineb -P\nforeground { echo \"a\nb\" c }\n  x \\\n y"))
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := []string{"foreground", " echo", " a\nb", " c", "", "x", "y"}
	// Words after a string spanning lines go on counting from the line
	// the string started on (as syntax errors do).
	wantPos := []Pos{{2, 1}, {2, 3}, {2, 4}, {3, 5}, {3, 6}, {4, 1}, {5, 1}}
	if !reflect.DeepEqual(argv, wantArgv) || !reflect.DeepEqual(pos, wantPos) {
		t.Errorf("ParsePos = %q %v, want %q %v", argv, pos, wantArgv, wantPos)
	}
	vars := PositionalVars("s", []string{"a", "b"}, 0, false)
	for _, tc := range []struct {
		argv    []string
		pos     []Pos
		want    []string
		wantPos []Pos
	}{
		{[]string{"x", "$@", "y"}, []Pos{{1, 1}, {1, 2}, {2, 1}}, []string{"x", "a", "b", "y"}, []Pos{{1, 1}, {1, 2}, {1, 2}, {2, 1}}},
		{[]string{"${9}", "$1"}, []Pos{{1, 1}, {3, 4}}, []string{"${9}", "a"}, []Pos{{1, 1}, {3, 4}}},
		{[]string{"x"}, nil, []string{"x"}, nil},
	} {
		got, gotPos := SubstitutePos(tc.argv, tc.pos, vars)
		if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(gotPos, tc.wantPos) {
			t.Errorf("SubstitutePos(%q, %v) = %q %v, want %q %v", tc.argv, tc.pos, got, gotPos, tc.want, tc.wantPos)
		}
	}
	vars = PositionalVars("s", nil, 0, false)
	if got, gotPos := SubstitutePos([]string{"a", "$@", "b"}, []Pos{{1, 1}, {1, 2}, {1, 3}}, vars); !reflect.DeepEqual(got, []string{"a", "b"}) || !reflect.DeepEqual(gotPos, []Pos{{1, 1}, {1, 3}}) {
		t.Errorf("SubstitutePos with an empty $@ = %q %v", got, gotPos)
	}
}
