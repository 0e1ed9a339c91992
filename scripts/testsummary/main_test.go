package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// events is what go test -json prints for a package with a passing test,
// a test with one passing and one failing subtest, a skipped test and a
// test skipped inside a subtest; and a package whose test binary panicked
// outside any test.
const events = `{"Action":"start","Package":"ex/a"}
{"Action":"run","Package":"ex/a","Test":"TestOK"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"ex/a","Test":"TestOK","Output":"--- PASS: TestOK (0.00s)\n"}
{"Action":"pass","Package":"ex/a","Test":"TestOK"}
{"Action":"run","Package":"ex/a","Test":"TestTable"}
{"Action":"output","Package":"ex/a","Test":"TestTable","Output":"=== RUN   TestTable\n"}
{"Action":"run","Package":"ex/a","Test":"TestTable/good"}
{"Action":"output","Package":"ex/a","Test":"TestTable/good","Output":"=== RUN   TestTable/good\n"}
{"Action":"pass","Package":"ex/a","Test":"TestTable/good"}
{"Action":"run","Package":"ex/a","Test":"TestTable/bad"}
{"Action":"output","Package":"ex/a","Test":"TestTable/bad","Output":"    a_test.go:9: want 2, got 3\n"}
{"Action":"output","Package":"ex/a","Test":"TestTable/bad","Output":"--- FAIL: TestTable/bad (0.00s)\n"}
{"Action":"fail","Package":"ex/a","Test":"TestTable/bad"}
{"Action":"fail","Package":"ex/a","Test":"TestTable"}
{"Action":"output","Package":"ex/a","Test":"TestShort","Output":"=== RUN   TestShort\n"}
{"Action":"output","Package":"ex/a","Test":"TestShort","Output":"    a_test.go:20: -short: slow\n"}
{"Action":"output","Package":"ex/a","Test":"TestShort","Output":"--- SKIP: TestShort (0.00s)\n"}
{"Action":"skip","Package":"ex/a","Test":"TestShort"}
{"Action":"pass","Package":"ex/a","Test":"TestSub/x"}
{"Action":"output","Package":"ex/a","Test":"TestSub/y","Output":"    a_test.go:30: not here\n"}
{"Action":"skip","Package":"ex/a","Test":"TestSub/y"}
{"Action":"pass","Package":"ex/a","Test":"TestSub"}
{"Action":"output","Package":"ex/a","Output":"FAIL\n"}
{"Action":"output","Package":"ex/a","Output":"FAIL\tex/a\t0.01s\n"}
{"Action":"fail","Package":"ex/a"}
{"Action":"output","Package":"ex/b","Output":"panic: boom\n"}
{"Action":"output","Package":"ex/b","Output":"FAIL\tex/b\t0.01s\n"}
{"Action":"fail","Package":"ex/b"}
{"Action":"output","Package":"ex/c","Output":"ok  \tex/c\t0.01s\n"}
{"Action":"pass","Package":"ex/c"}
`

func TestSummary(t *testing.T) {
	var out bytes.Buffer
	s := newSummary(&out)
	if err := s.read(strings.NewReader(events)); err != nil {
		t.Fatal(err)
	}
	s.report()
	got := out.String()
	for _, want := range []string{
		"    a_test.go:9: want 2, got 3\n--- FAIL: TestTable/bad", // a failing test's output
		"FAIL\tex/a\t0.01s\n",
		"panic: boom\n",
		"ok  \tex/c\t0.01s\n",
		"Skipped tests (2):\n  SKIP ex/a TestShort: a_test.go:20: -short: slow\n  SKIP ex/a TestSub/y: a_test.go:30: not here\n",
		"  FAIL ex/a TestTable/bad\n",
		"  FAIL ex/b (the package failed",
		// TestOK, TestTable/good, TestSub/x pass; TestTable/bad and ex/b fail.
		"\n3 passed, 2 failed, 2 skipped\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "=== RUN") || strings.Contains(got, "  FAIL ex/a TestTable\n") {
		t.Errorf("a passing test's output, or a parent of a failed subtest, is reported:\n%s", got)
	}
	if !strings.HasSuffix(got, "3 passed, 2 failed, 2 skipped\n") {
		t.Errorf("the counts are not the last line:\n%s", got)
	}
	if !s.failed() {
		t.Error("failed() = false with failed tests")
	}
}

// TestRunExitStatus runs a fake go command: the exit status follows the
// events, and the go command's own status when no test failed.
func TestRunExitStatus(t *testing.T) {
	dir := t.TempDir()
	pass := `{"Action":"pass","Package":"ex/c","Test":"TestOK"}` + "\n" + `{"Action":"pass","Package":"ex/c"}`
	for _, c := range []struct {
		name, events string
		code         int
		wantErr      bool
	}{
		{"pass", pass, 0, false},
		{"failed test", events, 1, true},
		{"go command failed alone", pass, 2, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := filepath.Join(dir, "events")
			if err := os.WriteFile(ev, []byte(c.events+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			fake := filepath.Join(dir, "fakego")
			script := "#!/bin/sh\n[ \"$1 $2\" = 'test -json' ] || { echo bad args: \"$@\" >&2; exit 3; }\ncat " + ev + "\nexit " + string(rune('0'+c.code)) + "\n"
			if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			err := run([]string{fake, "test", "./..."}, nil, &out, &errb)
			if (err != nil) != c.wantErr {
				t.Errorf("run = %v, want error %v\nstdout:\n%s\nstderr:\n%s", err, c.wantErr, out.String(), errb.String())
			}
		})
	}
}
