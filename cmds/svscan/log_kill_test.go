package main_test

// The logging proof of issue 3: a supervised service writes 200,000
// numbered lines into the pipe svscan holds for it and its logger (the
// real svlog, run by log/run), while the logger is stopped 10 times at
// random moments and restarted by its supervisor. Every line must then
// be in the log directory exactly once, in order, across the archives
// and current.

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/internal/testutil"
)

// buildSvlog builds cmds/svlog into a temporary directory.
func buildSvlog(t *testing.T) string { return testutil.Command(t, "svlog") }

const (
	proofLines = 200000
	proofKills = 10
	proofText  = " the quick brown fox jumps over the lazy dog"
	proofChunk = 2000 // lines per seq run
)

// proofWriter is the service: it writes the numbered lines once (a
// restarted service would write them again, which the check would
// catch). seq writes through a stdio buffer, so writes end in the middle
// of lines, and it writes faster than a logger logs: a logger that
// restarts finds a full pipe and is busy while the stream lasts, which is
// when a kill can hurt.
func proofWriter(done string) string {
	return fmt.Sprintf(`#!/bin/sh
[ -e %[1]s ] && exec sleep 100000
i=0
while [ $i -lt %[2]d ]; do
  seq -f '%%.0f%[3]s' $((i+1)) $((i+%[4]d))
  i=$((i+%[4]d))
done
echo done > %[1]s
exec sleep 100000
`, done, proofLines, proofText, proofChunk)
}

// TestLogProofThroughSvscan: the logger is stopped with SIGTERM (what
// svc -t and a shutdown send): nothing may be lost, duplicated,
// reordered or damaged. SVLOG_PROOF_LOGGER names another logger to run
// in its place (e.g. s6-log, to see the proof fail where a logger loses
// what it had read).
func TestLogProofThroughSvscan(t *testing.T) { logProof(t, syscall.SIGTERM) }

// TestLogProofThroughSvscanKill: the logger is SIGKILLed. svlog peeks at
// the pipe and removes lines only once written, so a kill can at most
// make the next logger write again the batch being written (never
// reorder), or lose one partial line; docs/svlog.md states the bounds.
func TestLogProofThroughSvscanKill(t *testing.T) { logProof(t, syscall.SIGKILL) }

func logProof(t *testing.T, sig syscall.Signal) {
	if testing.Short() {
		t.Skip("200,000-line proof skipped with -short")
	}
	logger := os.Getenv("SVLOG_PROOF_LOGGER")
	if logger == "" {
		logger = buildSvlog(t)
	}
	d := t.TempDir()
	logdir := filepath.Join(t.TempDir(), "logs")
	done := filepath.Join(t.TempDir(), "written")
	service(t, d, map[string]string{
		"a/run":                 proofWriter(done),
		"a/log/run":             fmt.Sprintf("#!/bin/sh\nexec %s -d3 t s100000 n10000 %s\n", logger, logdir),
		"a/log/notification-fd": "3\n",
		// Killed ten times in a row within moments of starting: the
		// restart backoff would delay it up to a minute (docs/supervise.md).
		"a/log/svinit-no-backoff": "",
	})
	s := startScan(t, d)
	svc := filepath.Join(d, "a")
	logsvc := filepath.Join(svc, "log")

	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	var prev uint64
	during := 0 // kills while the service was still writing
	for k := 0; k < proofKills; k++ {
		var pid uint64
		s.waitFor(fmt.Sprintf("logger up and ready (round %d)", k+1), func() bool {
			st, ok := status(logsvc)
			pid = st.Pid
			return ok && st.Up() && st.Ready && st.Pid != prev
		})
		time.Sleep(time.Duration(rng.Intn(20000)) * time.Microsecond)
		if _, err := os.Stat(done); err != nil {
			during++
		}
		if err := syscall.Kill(int(pid), sig); err != nil {
			t.Fatalf("kill logger %d: %v", pid, err)
		}
		prev = pid
	}
	s.waitFor("all lines written by the service", func() bool { _, err := os.Stat(done); return err == nil })
	// svscanctl -t: the service goes down first, then its logger drains
	// the pipe and exits at end of input, then svscan exits.
	s.control("t")
	s.waitExit()
	if st, _ := status(svc); st.Up() {
		t.Errorf("service still up after svscan exited: %+v", st)
	}

	arcs, _ := filepath.Glob(filepath.Join(logdir, "@*.[su]"))
	sort.Strings(arcs)
	files := append(arcs, filepath.Join(logdir, "current"))
	c := testutil.NewLines(proofLines, sig == syscall.SIGTERM)
	unfinished := 0
	for _, name := range files {
		if strings.HasSuffix(name, ".u") {
			unfinished++
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			n := -1
			if len(l) > 26 && l[0] == '@' && l[25] == ' ' {
				num, text, _ := strings.Cut(l[26:], " ")
				if v, err := strconv.Atoi(num); err == nil && " "+text == proofText && v >= 1 && v <= proofLines {
					n = v
				}
			}
			if err := c.Add(n); err != nil {
				t.Fatalf("%s: %v (%q)", filepath.Base(name), err, l)
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	t.Logf("%s %d times (%d while the service wrote): %d lines in %d files (%d .u), %d lost, %d replays (%d lines twice), %d fragments",
		sig, proofKills, during, c.Total, len(files), unfinished, c.Lost(), c.Replays, c.Replayed, c.Fragments)
	if err := c.Bounded(proofKills); err != nil {
		t.Error(err)
	} else if sig == syscall.SIGTERM && unfinished > 0 {
		t.Errorf("%d .u archives after SIGTERM stops, want 0: the logger did not finalize current", unfinished)
	}
	if fi, err := os.Stat(filepath.Join(logdir, "current")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("current not finalized (user-execute bit) after the logger's end of input: %v %v", fi.Mode(), err)
	}
}
