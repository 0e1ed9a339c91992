package main_test

// s6-rc's pipelines on svscan's pipes per consumer: a service directory
// with producer-for C writes into the pipe the scanner holds for C,
// which C's ./run reads. Every member of a chain is stopped while lines
// flow and restarted by its supervisor: each line must arrive once, in
// order. linepipe (testdata) stops at line boundaries on SIGTERM, so
// whatever is lost or repeated is the pipe's doing.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/svinit/svinit/internal/testutil"
)

// buildLinepipe builds testdata/linepipe.
func buildLinepipe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "linepipe")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/linepipe").CombinedOutput(); err != nil {
		t.Fatalf("building linepipe: %v\n%s", err, out)
	}
	return bin
}

// countLines is the number of complete lines in file.
func countLines(file string) int {
	b, _ := os.ReadFile(file)
	return bytes.Count(b, []byte{'\n'})
}

// checkLines checks that file holds, for each tag, the lines "tag 1" to
// "tag n" once each and in order (tags may interleave).
func checkLines(t *testing.T, file string, n int, tags ...string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	checks := map[string]*testutil.Lines{}
	for _, tag := range tags {
		checks[tag] = testutil.NewLines(n, true)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		tag, num, _ := strings.Cut(sc.Text(), " ")
		c := checks[tag]
		if c == nil {
			t.Fatalf("%s: line %q from no producer", file, sc.Text())
		}
		v, err := strconv.Atoi(num)
		if err != nil {
			v = -1
		}
		if err := c.Add(v); err != nil {
			t.Fatalf("%s: producer %s: %v", file, tag, err)
		}
	}
	for tag, c := range checks {
		if err := c.Bounded(0); err != nil {
			t.Errorf("producer %s: %v", tag, err)
		}
	}
}

// stopWhileFlowing waits until out holds at least at lines (of want),
// stops the service in dir with SIGTERM and waits for its supervisor to
// run it again.
func stopWhileFlowing(t *testing.T, s *scan, dir, out string, at, want int) {
	t.Helper()
	s.waitFor(fmt.Sprintf("%d lines in %s", at, out), func() bool { return countLines(out) >= at })
	st, ok := status(dir)
	if !ok || !st.Up() {
		t.Fatalf("%s not up: %+v", dir, st)
	}
	if err := syscall.Kill(int(st.Pid), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := countLines(out); got >= want {
		t.Fatalf("%s stopped after the last line arrived (%d lines): the pipeline is too fast for the test", dir, got)
	}
	s.waitFor(dir+" up again", func() bool { st2, ok := status(dir); return ok && st2.Up() && st2.Pid != st.Pid })
}

func TestPipelineChainSurvivesRestarts(t *testing.T) {
	const n = 20000
	lp := buildLinepipe(t)
	d := t.TempDir()
	work := t.TempDir()
	out := filepath.Join(work, "out")
	service(t, d, map[string]string{
		"a/run":               fmt.Sprintf("#!/bin/sh\nexec %s produce %s %d a\n", lp, filepath.Join(work, "a.state"), n),
		"a/producer-for":      "b\n",
		"a/svinit-no-backoff": "",
		"b/run":               fmt.Sprintf("#!/bin/sh\nexec %s forward\n", lp),
		"b/producer-for":      "c\n",
		"b/svinit-no-backoff": "",
		"c/run":               fmt.Sprintf("#!/bin/sh\nexec %s consume %s\n", lp, out),
		"c/svinit-no-backoff": "",
	})
	s := startScan(t, d)
	stopWhileFlowing(t, s, filepath.Join(d, "a"), out, n/10, n)
	stopWhileFlowing(t, s, filepath.Join(d, "b"), out, 3*n/10, n)
	stopWhileFlowing(t, s, filepath.Join(d, "c"), out, 5*n/10, n)
	s.waitFor("every line in "+out, func() bool { return countLines(out) >= n })
	// Anything repeated would come after line n: let the pipe drain.
	s.control("t")
	s.waitExit()
	checkLines(t, out, n, "a")
}

func TestPipelineFunnel(t *testing.T) {
	const n = 5000
	lp := buildLinepipe(t)
	d := t.TempDir()
	work := t.TempDir()
	out := filepath.Join(work, "out")
	service(t, d, map[string]string{
		"p1/run":              fmt.Sprintf("#!/bin/sh\nexec %s produce %s %d p1\n", lp, filepath.Join(work, "p1.state"), n),
		"p1/producer-for":     "c\n",
		"p2/run":              fmt.Sprintf("#!/bin/sh\nexec %s produce %s %d p2\n", lp, filepath.Join(work, "p2.state"), n),
		"p2/producer-for":     "c",
		"c/run":               fmt.Sprintf("#!/bin/sh\nexec %s consume %s\n", lp, out),
		"c/svinit-no-backoff": "",
	})
	s := startScan(t, d)
	stopWhileFlowing(t, s, filepath.Join(d, "c"), out, n/2, 2*n)
	s.waitFor("both producers' lines in "+out, func() bool { return countLines(out) >= 2*n })
	s.control("t")
	s.waitExit()
	checkLines(t, out, n, "p1", "p2")
}

// A producer with a log/ has one stdout, read by its logger: its
// producer-for is refused, naming the file and the fix, and the logger
// still gets the output.
func TestProducerForWithLogRefused(t *testing.T) {
	d := t.TempDir()
	logged := filepath.Join(t.TempDir(), "logged")
	service(t, d, map[string]string{
		"x/run":          "#!/bin/sh\necho hello\nexec sleep 1000\n",
		"x/producer-for": "y\n",
		"x/log/run":      fmt.Sprintf("#!/bin/sh\nexec cat > %s\n", logged),
		"y/run":          "#!/bin/sh\nexec cat\n",
	})
	s := startScan(t, d)
	file := filepath.Join(d, "x", "producer-for")
	s.waitFor("the refusal of "+file, func() bool {
		o := s.out.String()
		return strings.Contains(o, file+" ignored") && strings.Contains(o, "remove "+file)
	})
	s.waitFor("x's output in its logger", func() bool { b, _ := os.ReadFile(logged); return string(b) == "hello\n" })
}

// svscanctl -U re-executes the scanner with every service kept: the
// new image adopts the consumer pipes too, so a member restarted after
// the exec is joined to its neighbours again and no line is lost.
func TestPipelineAcrossReexec(t *testing.T) {
	const n = 20000
	lp := buildLinepipe(t)
	d := t.TempDir()
	work := t.TempDir()
	out := filepath.Join(work, "out")
	service(t, d, map[string]string{
		"a/run":               fmt.Sprintf("#!/bin/sh\nexec %s produce %s %d a\n", lp, filepath.Join(work, "a.state"), n),
		"a/producer-for":      "b\n",
		"a/svinit-no-backoff": "",
		"b/run":               fmt.Sprintf("#!/bin/sh\nexec %s forward\n", lp),
		"b/producer-for":      "c\n",
		"b/svinit-no-backoff": "",
		"c/run":               fmt.Sprintf("#!/bin/sh\nexec %s consume %s\n", lp, out),
		"c/svinit-no-backoff": "",
	})
	s := startScan(t, d)
	s.waitFor("lines flowing", func() bool { return countLines(out) >= n/20 })
	s.control("U")
	s.waitFor("the new image's report", func() bool { return strings.Contains(s.out.String(), "re-executed: 3 service(s) adopted") })
	stopWhileFlowing(t, s, filepath.Join(d, "b"), out, n/5, n)
	stopWhileFlowing(t, s, filepath.Join(d, "a"), out, 2*n/5, n)
	stopWhileFlowing(t, s, filepath.Join(d, "c"), out, 3*n/5, n)
	s.waitFor("every line in "+out, func() bool { return countLines(out) >= n })
	s.control("t")
	s.waitExit()
	checkLines(t, out, n, "a")
}
