package main_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// TestLogPipeServiceAndBothRestart: the pipe svscan holds between a
// service and its logger (svlog) outlives both. The service restarts:
// the logger does not see end of input and keeps its process. The
// service and the logger are killed together: the lines the service
// writes before the new logger is up wait in the pipe. Every line ends up
// in the log directory once, in order.
func TestLogPipeServiceAndBothRestart(t *testing.T) {
	svlog := buildSvlog(t)
	d := t.TempDir()
	logdir := filepath.Join(t.TempDir(), "logs")
	// Each run writes 100 lines numbered with its run count, then waits.
	service(t, d, map[string]string{
		"a/run": "#!/bin/sh\nn=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n" +
			"i=0; while [ $i -lt 100 ]; do echo \"run $n line $i\"; i=$((i+1)); done\nexec sleep 100000\n",
		"a/log/run":             fmt.Sprintf("#!/bin/sh\nexec %s -d3 t %s\n", svlog, logdir),
		"a/log/notification-fd": "3\n",
	})
	s := startScan(t, d)
	svc, logsvc := filepath.Join(d, "a"), filepath.Join(d, "a", "log")
	logged := func() []string {
		arcs, _ := filepath.Glob(filepath.Join(logdir, "@*.[su]"))
		sort.Strings(arcs)
		var lines []string
		for _, f := range append(arcs, filepath.Join(logdir, "current")) {
			fh, err := os.Open(f)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(fh)
			for sc.Scan() {
				l := sc.Text()
				if len(l) > 26 && l[0] == '@' {
					l = l[26:]
				}
				lines = append(lines, l)
			}
			fh.Close()
		}
		return lines
	}
	upWith := func(dir string, notPid uint64) func() bool {
		return func() bool { st, ok := status(dir); return ok && st.Up() && st.Pid != notPid }
	}

	s.waitFor("run 1 logged", func() bool { return len(logged()) >= 100 })
	lst, _ := status(logsvc)
	st, _ := status(svc)
	// The service alone restarts.
	syscall.Kill(int(st.Pid), syscall.SIGTERM)
	s.waitFor("service restarted", upWith(svc, st.Pid))
	s.waitFor("run 2 logged", func() bool { return len(logged()) >= 200 })
	if now, _ := status(logsvc); now.Pid != lst.Pid {
		t.Errorf("logger restarted (pid %d -> %d) when only the service did: it saw end of input", lst.Pid, now.Pid)
	}
	// Both die at once; the service comes back first or not, the lines
	// wait in the pipe for the new logger.
	st, _ = status(svc)
	syscall.Kill(int(lst.Pid), syscall.SIGKILL)
	syscall.Kill(int(st.Pid), syscall.SIGKILL)
	s.waitFor("service restarted again", upWith(svc, st.Pid))
	s.waitFor("logger restarted", upWith(logsvc, lst.Pid))
	s.waitFor("run 3 logged", func() bool { return len(logged()) >= 300 })
	s.control("t")
	s.waitExit()

	var want []string
	for run := 1; run <= 3; run++ {
		for i := 0; i < 100; i++ {
			want = append(want, fmt.Sprintf("run %d line %d", run, i))
		}
	}
	if got := logged(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logged %d lines, want the 300 lines of 3 runs in order; first differences:\n%s", len(got), firstDiff(got, want))
	}
}

func firstDiff(got, want []string) string {
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, g, w)
		}
	}
	return ""
}
