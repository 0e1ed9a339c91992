// Command testsummary runs `go test -json ...` (the command line it is
// given, with -json added after "test"), prints what plain go test would
// (each package's ok/FAIL line, the whole output of every failing test,
// build errors), and at the end lists every skipped test with its reason
// and every failure, then a last line "N passed, N failed, N skipped".
// It exits 1 when a test or a package failed or the go command did.
//
// make test runs it:
//
//	go run ./scripts/testsummary go test -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if err != errFailed {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
		}
		os.Exit(1)
	}
}

// errFailed: tests failed (already reported).
var errFailed = fmt.Errorf("tests failed")

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[1] != "test" {
		return fmt.Errorf("usage: testsummary GO test [flags] [packages]")
	}
	argv := append([]string{args[0], "test", "-json"}, args[2:]...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stderr = stdin, stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	s := newSummary(stdout)
	if err := s.read(out); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	werr := cmd.Wait()
	s.report()
	if s.failed() {
		return errFailed
	}
	if werr != nil {
		// The go command failed without a failed test or package
		// (a flag it rejects, a package pattern matching nothing).
		return fmt.Errorf("%s: %v", strings.Join(argv, " "), werr)
	}
	return nil
}

// event is one line of go test -json (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output, build-fail
}

type test struct {
	pkg, name string
	out       []string
	result    string // pass, fail, skip
}

type summary struct {
	w        io.Writer
	tests    map[string]*test // package + " " + name
	order    []*test
	pkgFail  map[string]bool // packages that failed
	pkgOut   map[string][]string
	buildOut map[string][]string
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, tests: map[string]*test{}, pkgFail: map[string]bool{}, pkgOut: map[string][]string{}, buildOut: map[string][]string{}}
}

// read handles the events as they come.
func (s *summary) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(s.w, "%s\n", line) // not an event: pass it on
			continue
		}
		s.event(e)
	}
	return sc.Err()
}

func (s *summary) event(e event) {
	switch e.Action {
	case "build-output":
		s.buildOut[e.ImportPath] = append(s.buildOut[e.ImportPath], e.Output)
		fmt.Fprint(s.w, e.Output)
		return
	case "build-fail":
		return // the package's own fail event follows
	}
	if e.Test == "" {
		switch e.Action {
		case "output":
			// Package-level output: its ok/FAIL line, and what a
			// test binary prints outside tests (TestMain, a panic).
			if o := strings.TrimSpace(e.Output); o != "PASS" && o != "FAIL" {
				fmt.Fprint(s.w, e.Output)
			}
			s.pkgOut[e.Package] = append(s.pkgOut[e.Package], e.Output)
		case "fail":
			s.pkgFail[e.Package] = true
		}
		return
	}
	k := e.Package + " " + e.Test
	t := s.tests[k]
	if t == nil {
		t = &test{pkg: e.Package, name: e.Test}
		s.tests[k] = t
		s.order = append(s.order, t)
	}
	switch e.Action {
	case "output":
		t.out = append(t.out, e.Output)
	case "pass", "fail", "skip":
		t.result = e.Action
		if e.Action == "pass" {
			t.out = nil // not needed any more
		}
		if e.Action == "fail" {
			// As go test without -v: the test's lines, without the
			// === RUN/PAUSE/CONT/NAME markers.
			for _, o := range t.out {
				if !strings.HasPrefix(o, "=== ") {
					fmt.Fprint(s.w, o)
				}
			}
		}
	}
}

// leaf reports whether t has no subtests.
func (s *summary) leaf(t *test) bool {
	for _, o := range s.order {
		if o.pkg == t.pkg && strings.HasPrefix(o.name, t.name+"/") {
			return false
		}
	}
	return true
}

// counts counts tests without subtests; a test with subtests counts
// only if it failed while none of its subtests did.
func (s *summary) counts() (pass, fail, skip int, failed, skipped []*test) {
	failedBelow := map[string]bool{}
	for _, t := range s.order {
		if t.result == "fail" {
			for p := parent(t.name); p != ""; p = parent(p) {
				failedBelow[t.pkg+" "+p] = true
			}
		}
	}
	for _, t := range s.order {
		leaf := s.leaf(t)
		switch {
		case t.result == "fail" && (leaf || !failedBelow[t.pkg+" "+t.name]):
			fail++
			failed = append(failed, t)
		case !leaf:
		case t.result == "pass":
			pass++
		case t.result == "skip":
			skip++
			skipped = append(skipped, t)
		}
	}
	return
}

func parent(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// brokenPackages lists the failed packages in which no test failed (a
// build error, a panic outside a test, a timeout, TestMain).
func (s *summary) brokenPackages() []string {
	hasFail := map[string]bool{}
	for _, t := range s.order {
		if t.result == "fail" {
			hasFail[t.pkg] = true
		}
	}
	var out []string
	for p := range s.pkgFail {
		if !hasFail[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func (s *summary) failed() bool { return len(s.pkgFail) > 0 || s.anyTestFailed() }

func (s *summary) anyTestFailed() bool {
	for _, t := range s.order {
		if t.result == "fail" {
			return true
		}
	}
	return false
}

// reason is a skipped test's message: its output without go test's own
// === and --- lines.
func reason(t *test) string {
	var lines []string
	for _, o := range t.out {
		l := strings.TrimSpace(o)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.Join(lines, " / ")
}

func (s *summary) report() {
	pass, fail, skip, failed, skipped := s.counts()
	broken := s.brokenPackages()
	fmt.Fprintln(s.w)
	if len(skipped) > 0 {
		fmt.Fprintf(s.w, "Skipped tests (%d):\n", len(skipped))
		for _, t := range skipped {
			fmt.Fprintf(s.w, "  SKIP %s %s: %s\n", t.pkg, t.name, reason(t))
		}
	}
	if len(failed) > 0 || len(broken) > 0 {
		fmt.Fprintf(s.w, "Failed (%d tests, %d packages without a failed test):\n", len(failed), len(broken))
		for _, t := range failed {
			fmt.Fprintf(s.w, "  FAIL %s %s\n", t.pkg, t.name)
		}
		for _, p := range broken {
			fmt.Fprintf(s.w, "  FAIL %s (the package failed: build error, panic or timeout; see its output above)\n", p)
		}
	}
	fmt.Fprintf(s.w, "%d passed, %d failed, %d skipped\n", pass, fail+len(broken), skip)
}
