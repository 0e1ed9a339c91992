package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cli"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/pkg/svclient/svtest"
	"github.com/svinit/svinit/pkg/tai64n"
)

func runSvstat(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	err := run(append([]string{"svstat"}, args...), strings.NewReader(""), &out, &errb)
	code := cli.Report(&errb, "svstat", err)
	return code, out.String(), errb.String()
}

func TestSvstat(t *testing.T) {
	killed := svtest.Down(0, true)
	killed.Wstat = 9
	for _, tc := range []struct {
		name string
		st   servicedir.Status
		down bool
		args []string
		re   string // the whole stdout must match
	}{
		{"human up", svtest.Up(4242), false, nil, `up \(pid 4242\) \d+ seconds\n`},
		{"human up, down file", svtest.Up(4242), true, nil, `up \(pid 4242\) \d+ seconds, normally down\n`},
		{"human killed", killed, false, nil, `down \(signal SIGKILL\) \d+ seconds, normally up, want up, ready \d+ seconds\n`},
		{"human killed -n", killed, false, []string{"-n"}, `down \(signal 9\) \d+ seconds, normally up, want up, ready \d+ seconds\n`},
		{"empty -o is human", svtest.Up(4242), false, []string{"-o", ""}, `up \(pid 4242\) \d+ seconds\n`},
		{"fields", svtest.Up(4242), false, []string{"-o", "up,pid,exitcode,signal"}, `true 4242 -1 NA\n`},
		{"shortcuts", killed, true, []string{"-uwNrpest"}, `false true false false -1 -1 SIGKILL \d+\n`},
		{"-n does not change fields", killed, false, []string{"-n", "-s"}, `SIGKILL\n`},
		{"pgid of a dead pid falls back to the pid", svtest.Up(999999999), false, []string{"-g", "-o", "pgid"}, `999999999 999999999\n`},
		{"pgid when down", killed, false, []string{"-g"}, `-1\n`},
		{"labels", svtest.Up(1), false, []string{"-o", "updownsince,readysince"}, `@4[0-9a-f]{23} @4[0-9a-f]{23}\n`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svtest.New(t, tc.st)
			s.Lock()
			if tc.down {
				os.WriteFile(filepath.Join(s.Dir, "down"), nil, 0o644)
			}
			code, out, msg := runSvstat(append(tc.args, s.Dir)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, msg)
			}
			if !regexp.MustCompile(`^` + tc.re + `$`).MatchString(out) {
				t.Errorf("output %q does not match %q", out, tc.re)
			}
		})
	}
}

// TestSvstatRestart: svinit's supervise/svinit-restart, when there, is
// read and printed; a corrupt one is ignored (it is optional).
func TestSvstatRestart(t *testing.T) {
	killed := svtest.Down(1, true)
	crash := servicedir.Restart{Restarts: 5, Streak: 3, Delay: 4 * time.Second, Next: tai64n.FromTime(time.Now().Add(time.Hour))}
	b := crash.Marshal()
	for _, tc := range []struct {
		name    string
		content []byte // nil: no file
		args    []string
		re      string
	}{
		{"human", b[:], nil, `down \(exitcode 1\) \d+ seconds, normally up, want up, ready \d+ seconds, restarts 5 \(3 in a row\), delay 4000 ms, next start in \d+ ms\n`},
		{"fields", b[:], []string{"-o", "restarts,restartdelay,nextstartin,permfailed"}, `5 4000 3[0-9]{6} false\n`},
		{"no file", nil, []string{"-o", "restarts,nextstartin"}, `-1 -1\n`},
		{"corrupt file ignored", []byte("garbage"), nil, `down \(exitcode 1\) \d+ seconds, normally up, want up, ready \d+ seconds\n`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svtest.New(t, killed)
			s.Lock()
			if tc.content != nil {
				if err := os.WriteFile(filepath.Join(s.Dir, servicedir.RestartFile), tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, out, msg := runSvstat(append(tc.args, s.Dir)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, msg)
			}
			if !regexp.MustCompile(`^` + tc.re + `$`).MatchString(out) {
				t.Errorf("output %q does not match %q", out, tc.re)
			}
		})
	}
}

func TestSvstatPgidSelf(t *testing.T) {
	// A live pid: pgid comes from /proc.
	s := svtest.New(t, svtest.Up(uint64(os.Getpid())))
	s.Lock()
	code, out, msg := runSvstat("-o", "pid,pgid", s.Dir)
	if code != 0 {
		t.Fatal(msg)
	}
	f := strings.Fields(out)
	if len(f) != 2 || f[1] == "-1" {
		t.Fatalf("output %q", out)
	}
}

func TestSvstatErrors(t *testing.T) {
	notSup := svtest.New(t, svtest.Up(1))
	corrupt := svtest.New(t, svtest.Up(1))
	corrupt.Lock()
	os.WriteFile(servicedir.StatusPath(corrupt.Dir), []byte("short"), 0o644)
	missing := svtest.New(t, svtest.Up(1))
	missing.Lock()
	os.Remove(servicedir.StatusPath(missing.Dir))
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no dir", nil, cli.ExitUsage, "usage"},
		{"bad option", []string{"-x", notSup.Dir}, cli.ExitUsage, "unknown option -x"},
		{"bad field", []string{"-o", "up,bogus", notSup.Dir}, cli.ExitUsage, `"bogus"`},
		{"null field", []string{"-o", "up,,pid", notSup.Dir}, cli.ExitUsage, "empty field"},
		{"not supervised", []string{notSup.Dir}, cli.ExitFalse, "not supervised"},
		{"nonexistent", []string{filepath.Join(t.TempDir(), "nope")}, cli.ExitFalse, "not supervised"},
		{"a file", []string{file}, cli.ExitSystem, file},
		{"truncated status", []string{corrupt.Dir}, cli.ExitSystem, servicedir.StatusPath(corrupt.Dir) + ": corrupt status file"},
		{"missing status", []string{missing.Dir}, cli.ExitSystem, servicedir.StatusPath(missing.Dir)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, msg := runSvstat(tc.args...)
			if code != tc.code || !strings.Contains(msg, tc.msg) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, msg, tc.code, tc.msg)
			}
		})
	}
}

// FuzzOptions runs arbitrary command lines against a supervised fake:
// exit codes stay in s6's set and nothing panics.
func FuzzOptions(f *testing.F) {
	f.Add("-o\x00up,pid")
	f.Add("-uwNrpgest\x00-n")
	f.Add("-o\x00,")
	f.Add("-ox")
	f.Fuzz(func(t *testing.T, joined string) {
		s := svtest.New(t, svtest.Up(1))
		s.Lock()
		args := append(strings.Split(joined, "\x00"), s.Dir)
		code, _, _ := runSvstat(args...)
		switch code {
		case 0, cli.ExitFalse, cli.ExitUsage, cli.ExitSystem:
		default:
			t.Fatalf("exit %d", code)
		}
	})
}

// TestSvstatCgroup: the figures of the cgroup supervise/svinit-cgroup
// names (here a directory of the kernel's files, as the kernel writes
// them), and OOM kills in the summary line.
func TestSvstatCgroup(t *testing.T) {
	cg := t.TempDir()
	for name, content := range map[string]string{
		"cgroup.procs":   "12\n13\n",
		"memory.current": "4096\n",
		"memory.peak":    "67108864\n",
		"memory.events":  "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n",
	} {
		if err := os.WriteFile(filepath.Join(cg, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		file string // supervise/svinit-cgroup; empty: none
		args []string
		re   string
	}{
		{"fields", cg + "\n", []string{"-o", "cgroup,processes,memory,memorypeak,oomkills"}, regexp.QuoteMeta(cg) + ` 2 4096 67108864 1\n`},
		{"human", cg + "\n", nil, `up \(pid 4242\) \d+ seconds, OOM kills 1\n`},
		{"no file", "", []string{"-o", "cgroup,processes,oomkills"}, `NA -1 -1\n`},
		{"cgroup gone", "/nonexistent/cgroup\n", []string{"-o", "cgroup,memory"}, `NA -1\n`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := svtest.New(t, svtest.Up(4242))
			s.Lock()
			if tc.file != "" {
				if err := os.WriteFile(filepath.Join(s.Dir, servicedir.CgroupFile), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, out, msg := runSvstat(append(tc.args, s.Dir)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, msg)
			}
			if !regexp.MustCompile(`^` + tc.re + `$`).MatchString(out) {
				t.Errorf("output %q does not match %q", out, tc.re)
			}
		})
	}
}
