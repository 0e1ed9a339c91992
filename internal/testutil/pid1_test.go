package testutil

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const envRole = "TESTUTIL_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case "pid":
		f := os.NewFile(3, "console")
		f.WriteString("pid " + strconv.Itoa(os.Getpid()) + "\n")
		f.Close()
		os.Exit(0)
	case "hang":
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunPID1(t *testing.T) {
	NeedRoot(t, "PID and mount namespaces")
	p := RunPID1(t, []string{envRole + "=pid"}, 2*time.Minute)
	if p.TimedOut || p.Err != nil || string(p.Console) != "pid 1\n" || p.Signal() != 0 {
		t.Errorf("process 1: %+v, console %q; want pid 1, a clean exit", p, p.Console)
	}
	p = RunPID1(t, []string{envRole + "=hang"}, 100*time.Millisecond)
	if !p.TimedOut || p.Signal() != 9 {
		t.Errorf("a process 1 that never ends: timed out %v, signal %v; want killed", p.TimedOut, p.Signal())
	}
}

func TestTmpfsRoot(t *testing.T) {
	NeedRoot(t, "mount")
	root := TmpfsRoot(t, "1m")
	var mounted bool
	b, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == root && f[2] == "tmpfs" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("no tmpfs on %s", root)
	}
}
