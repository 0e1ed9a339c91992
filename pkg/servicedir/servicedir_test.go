package servicedir

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func mk(t *testing.T, files map[string]string) string {
	t.Helper()
	d := t.TempDir()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if name == "run" || name == "finish" {
			mode = 0o755
		}
		if name == "run-noexec" {
			name = "run"
		}
		if strings.HasSuffix(name, "/") {
			os.MkdirAll(filepath.Join(d, name), 0o755)
			continue
		}
		if strings.HasPrefix(content, "->") { // a symbolic link to content[2:]
			if err := os.Symlink(content[2:], filepath.Join(d, name)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestLoad(t *testing.T) {
	run := "#!/bin/sh\nexec true\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		check   func(Config) bool
		wantErr string
	}{
		{"defaults", map[string]string{"run": run}, func(c Config) bool {
			return c.NotificationFd == -1 && c.TimeoutFinish == 5*time.Second && c.MaxDeathTally == 100 &&
				c.DownSignal == syscall.SIGTERM && !c.HasFinish && !c.Down && !c.HasLog && c.TimeoutKill == 0
		}, ""},
		{"all files", map[string]string{"run": run, "finish": run, "down": "", "notification-fd": "3\n",
			"timeout-kill": "200", "timeout-finish": "0", "max-death-tally": "4096", "down-signal": "SIGHUP\n", "log/": ""},
			func(c Config) bool {
				return c.NotificationFd == 3 && c.TimeoutKill == 200*time.Millisecond && c.TimeoutFinish == 0 &&
					c.MaxDeathTally == 4096 && c.DownSignal == syscall.SIGHUP && c.HasFinish && c.Down && c.HasLog
			}, ""},
		{"symlinks followed", map[string]string{"run": run, "real-finish": run, "finish": "->real-finish", "real-log/": "", "log": "->real-log",
			"down": "->nowhere"}, func(c Config) bool { return c.HasFinish && c.HasLog && c.Down }, ""},
		{"finish is a dir, log a file", map[string]string{"run": run, "finish/": "", "log": "x"}, func(c Config) bool {
			return !c.HasFinish && !c.HasLog
		}, ""},
		{"dangling finish and log", map[string]string{"run": run, "finish": "->nowhere", "log": "->nowhere"}, func(c Config) bool {
			return !c.HasFinish && !c.HasLog && !c.Down
		}, ""},
		{"no run", map[string]string{"finish": run}, nil, "run: missing"},
		{"run not executable", map[string]string{"run-noexec": run}, nil, "not executable"},
		{"bad notification-fd", map[string]string{"run": run, "notification-fd": "three"}, nil, "notification-fd: \"three\" is not an integer"},
		{"notification-fd 1", map[string]string{"run": run, "notification-fd": "1"}, nil, "use 3 or more"},
		{"tally too big", map[string]string{"run": run, "max-death-tally": "5000"}, nil, "between 0 and 4096"},
		{"bad signal", map[string]string{"run": run, "down-signal": "SIGFOO"}, nil, "unknown signal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(mk(t, tc.files))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "term": syscall.SIGTERM,
		"HUP": syscall.SIGHUP, "9": syscall.SIGKILL, "SIGPWR": syscall.SIGPWR} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "65", "SIGNOPE"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q): no error", in)
		}
	}
	if SignalName(syscall.SIGTERM) != "SIGTERM" || SignalName(syscall.SIGIO) != "SIGIO" {
		t.Errorf("SignalName: %s %s", SignalName(syscall.SIGTERM), SignalName(syscall.SIGIO))
	}
}
