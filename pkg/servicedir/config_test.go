package servicedir

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/cgroup"
	"golang.org/x/sys/unix"
)

func mk(t testing.TB, files map[string]string) string {
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
		if content == "|fifo" {
			if err := unix.Mkfifo(filepath.Join(d, name), 0o644); err != nil {
				t.Fatal(err)
			}
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

const run = "#!/bin/sh\nexec true\n"

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		check func(Config) bool
		warn  string // a warning containing this, and only one
	}{
		{"defaults", map[string]string{"run": run}, func(c Config) bool {
			return c.NotificationFd == -1 && c.LockFd == -1 && c.TimeoutFinish == 5*time.Second && c.MaxDeathTally == 100 &&
				c.DownSignal == syscall.SIGTERM && !c.HasFinish && !c.Down && !c.HasLog && c.TimeoutKill == 0 && c.RunErr == nil
		}, ""},
		{"all files", map[string]string{"run": run, "finish": run, "down": "", "notification-fd": "3\n", "lock-fd": "7\n",
			"timeout-kill": "200", "timeout-finish": "0", "max-death-tally": "4096", "down-signal": "SIGHUP\n", "log/": ""},
			func(c Config) bool {
				return c.NotificationFd == 3 && c.LockFd == 7 && c.TimeoutKill == 200*time.Millisecond && c.TimeoutFinish == 0 &&
					c.MaxDeathTally == 4096 && c.DownSignal == syscall.SIGHUP && c.HasFinish && c.Down && c.HasLog
			}, ""},
		// s6-supervise reads through links; a dangling down does not
		// count (access(F_OK) follows it).
		{"symlinks followed", map[string]string{"run": run, "real-finish": run, "finish": "->real-finish", "real-log/": "", "log": "->real-log",
			"real-fd": "4\n", "notification-fd": "->real-fd", "down": "->nowhere"}, func(c Config) bool {
			return c.HasFinish && c.HasLog && !c.Down && c.NotificationFd == 4
		}, ""},
		{"down through a link", map[string]string{"run": run, "real-down": "", "down": "->real-down"}, func(c Config) bool { return c.Down }, ""},
		{"down is a directory", map[string]string{"run": run, "down/": ""}, func(c Config) bool { return c.Down }, ""},
		{"finish is a dir, log a file", map[string]string{"run": run, "finish/": "", "log": "x"}, func(c Config) bool {
			return !c.HasFinish && !c.HasLog
		}, ""},
		{"dangling finish and log", map[string]string{"run": run, "finish": "->nowhere", "log": "->nowhere"}, func(c Config) bool {
			return !c.HasFinish && !c.HasLog && !c.Down
		}, ""},
		// Any descriptor, as s6-supervise 2.11: s6rc-fdholder uses 1.
		{"notification-fd 1", map[string]string{"run": run, "notification-fd": "1\n"}, func(c Config) bool { return c.NotificationFd == 1 }, ""},
		{"notification-fd 0", map[string]string{"run": run, "notification-fd": "0"}, func(c Config) bool { return c.NotificationFd == 0 }, ""},
		{"leading zeros", map[string]string{"run": run, "notification-fd": "0003"}, func(c Config) bool { return c.NotificationFd == 3 }, ""},
		{"only the first line", map[string]string{"run": run, "timeout-kill": "10\ngarbage"}, func(c Config) bool { return c.TimeoutKill == 10*time.Millisecond }, ""},
		{"tally clamped", map[string]string{"run": run, "max-death-tally": "5000"}, func(c Config) bool { return c.MaxDeathTally == 4096 }, ""},
		{"signal number", map[string]string{"run": run, "down-signal": "1"}, func(c Config) bool { return c.DownSignal == syscall.SIGHUP }, ""},
		{"signal lower case", map[string]string{"run": run, "down-signal": "sigusr1"}, func(c Config) bool { return c.DownSignal == syscall.SIGUSR1 }, ""},
		{"signal alias", map[string]string{"run": run, "down-signal": "IOT"}, func(c Config) bool { return c.DownSignal == syscall.SIGABRT }, ""},
		// Malformed values: a warning naming the file, and the default.
		{"bad notification-fd", map[string]string{"run": run, "notification-fd": "three"}, func(c Config) bool { return c.NotificationFd == -1 },
			"notification-fd: \"three\" is not an unsigned integer"},
		{"trailing space", map[string]string{"run": run, "notification-fd": "3 \n"}, func(c Config) bool { return c.NotificationFd == -1 },
			"notification-fd: \"3 \" is not an unsigned integer"},
		{"empty", map[string]string{"run": run, "timeout-kill": ""}, func(c Config) bool { return c.TimeoutKill == 0 }, "timeout-kill: \"\""},
		{"too big", map[string]string{"run": run, "timeout-finish": "4294967296"}, func(c Config) bool { return c.TimeoutFinish == 5*time.Second },
			"timeout-finish: \"4294967296\" is not an unsigned integer: using the default, 5000"},
		{"fd too big", map[string]string{"run": run, "lock-fd": "4294967295"}, func(c Config) bool { return c.LockFd == -1 },
			"lock-fd: 4294967295 is not a descriptor number"},
		{"negative", map[string]string{"run": run, "max-death-tally": "-1"}, func(c Config) bool { return c.MaxDeathTally == 100 }, "max-death-tally: \"-1\""},
		// s6 reads 11 bytes: a longer first line is malformed.
		{"long line", map[string]string{"run": run, "timeout-kill": "123456789012345\n"}, func(c Config) bool { return c.TimeoutKill == 0 },
			"timeout-kill: \"12345678901\""},
		{"bad signal", map[string]string{"run": run, "down-signal": "SIGFOO"}, func(c Config) bool { return c.DownSignal == syscall.SIGTERM },
			"down-signal: unknown signal \"SIGFOO\""},
		{"signal 0", map[string]string{"run": run, "down-signal": "0"}, func(c Config) bool { return c.DownSignal == syscall.SIGTERM },
			"down-signal: signal number 0 out of range"},
		// svinit's restart backoff and permanent failure files.
		{"backoff defaults", map[string]string{"run": run}, func(c Config) bool {
			return c.RestartMax == time.Minute && c.RestartReset == 10*time.Second && !c.NoBackoff &&
				c.PermafailDeaths == 0 && c.PermafailWindow == time.Minute
		}, ""},
		{"backoff files", map[string]string{"run": run, "svinit-restart-max": "2500\n", "svinit-restart-reset": "1500",
			"svinit-no-backoff": "", "svinit-permafail-deaths": "5", "svinit-permafail-window": "30000\n"}, func(c Config) bool {
			return c.RestartMax == 2500*time.Millisecond && c.RestartReset == 1500*time.Millisecond && c.NoBackoff &&
				c.PermafailDeaths == 5 && c.PermafailWindow == 30*time.Second
		}, ""},
		// svinit's cgroup files.
		{"cgroup files", map[string]string{"run": run, "svinit-memory-max": "64M\n", "svinit-pids-max": "max",
			"svinit-cpu-weight": "200", "svinit-no-cgroup": ""}, func(c Config) bool {
			return c.Limits == cgroup.Limits{MemoryMax: "67108864", PidsMax: "max", CPUWeight: "200"} && c.NoCgroup
		}, ""},
		{"no cgroup files", map[string]string{"run": run}, func(c Config) bool { return c.Limits == cgroup.Limits{} && !c.NoCgroup }, ""},
		{"bad memory-max", map[string]string{"run": run, "svinit-memory-max": "64 MB"}, func(c Config) bool { return c.Limits.MemoryMax == "" },
			"svinit-memory-max: \"64 MB\" is not a size"},
		{"bad cpu-weight", map[string]string{"run": run, "svinit-cpu-weight": "0"}, func(c Config) bool { return c.Limits.CPUWeight == "" },
			"svinit-cpu-weight: \"0\" is not a weight from 1 to 10000: no limit"},
		{"no-backoff through a link", map[string]string{"run": run, "x": "", "svinit-no-backoff": "->x"}, func(c Config) bool { return c.NoBackoff }, ""},
		{"no-backoff dangling", map[string]string{"run": run, "svinit-no-backoff": "->nowhere"}, func(c Config) bool { return !c.NoBackoff }, ""},
		{"permafail deaths clamped", map[string]string{"run": run, "svinit-permafail-deaths": "100000"}, func(c Config) bool { return c.PermafailDeaths == 4096 }, ""},
		{"bad restart-max", map[string]string{"run": run, "svinit-restart-max": "1m"}, func(c Config) bool { return c.RestartMax == time.Minute },
			"svinit-restart-max: \"1m\" is not an unsigned integer: using the default, 60000"},
		{"bad restart-reset", map[string]string{"run": run, "svinit-restart-reset": "-1"}, func(c Config) bool { return c.RestartReset == 10*time.Second },
			"svinit-restart-reset: \"-1\""},
		{"bad permafail-deaths", map[string]string{"run": run, "svinit-permafail-deaths": "x"}, func(c Config) bool { return c.PermafailDeaths == 0 },
			"svinit-permafail-deaths: \"x\" is not an unsigned integer: using 0"},
		{"restart-max a directory", map[string]string{"run": run, "svinit-restart-max/": ""}, func(c Config) bool { return c.RestartMax == time.Minute },
			"svinit-restart-max: not a regular file"},
		{"permafail-window a FIFO", map[string]string{"run": run, "svinit-permafail-window": "|fifo"}, func(c Config) bool { return c.PermafailWindow == time.Minute },
			"svinit-permafail-window: not a regular file (a FIFO)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Read(mk(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
			switch {
			case tc.warn == "" && len(c.Warnings) > 0:
				t.Errorf("warnings %q, want none", c.Warnings)
			case tc.warn != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tc.warn)):
				t.Errorf("warnings %q, want one containing %q", c.Warnings, tc.warn)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"fine", map[string]string{"run": run, "notification-fd": "1"}, ""},
		{"no run", map[string]string{"finish": run}, "run: missing"},
		{"run not executable", map[string]string{"run-noexec": run}, "not executable (chmod +x"},
		{"run is a directory", map[string]string{"run/": ""}, "run: not a regular file (a directory)"},
		{"dangling run", map[string]string{"run": "->nowhere"}, "run: missing"},
		{"bad notification-fd", map[string]string{"run": run, "notification-fd": "three"}, "notification-fd: \"three\" is not an unsigned integer"},
		{"bad signal", map[string]string{"run": run, "down-signal": "SIGFOO"}, "unknown signal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(mk(t, tc.files))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

// hostile plants one kind of hostile file at dir/name.
type hostile struct {
	kind  string
	plant func(t testing.TB, path string)
	// notFile: the supervisor reports it as not a regular file (else the
	// file is read and its content is malformed, or it is absent).
	notFile bool
	absent  bool // looks absent (a dangling link)
}

// Hostiles are the kinds of file a hostile or broken service directory
// may hold in place of any file a supervisor reads.
var hostiles = []hostile{
	{"fifo", func(t testing.TB, p string) {
		if err := unix.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}, true, false},
	{"dev-zero", func(t testing.TB, p string) {
		if err := os.Symlink("/dev/zero", p); err != nil {
			t.Fatal(err)
		}
	}, true, false},
	{"directory", func(t testing.TB, p string) {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}, true, false},
	{"dangling", func(t testing.TB, p string) {
		if err := os.Symlink("nowhere/at/all", p); err != nil {
			t.Fatal(err)
		}
	}, false, true},
	{"huge", func(t testing.TB, p string) {
		// 4 GiB of zeros without a newline (sparse: no disk used).
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Truncate(4 << 30); err != nil {
			t.Fatal(err)
		}
	}, false, false},
}

// TestHostileFiles puts each hostile kind in place of each file a
// supervisor reads: Read never blocks, reads a bounded amount, names the
// file, and keeps every other file's value.
func TestHostileFiles(t *testing.T) {
	for _, name := range Files {
		for _, h := range hostiles {
			t.Run(name+"/"+h.kind, func(t *testing.T) {
				files := map[string]string{"run": run, "notification-fd": "5\n", "timeout-kill": "300\n", "down-signal": "HUP\n"}
				delete(files, name)
				d := mk(t, files)
				h.plant(t, filepath.Join(d, name))
				var c Config
				var err error
				var before, after runtime.MemStats
				done := make(chan struct{})
				runtime.ReadMemStats(&before)
				go func() {
					defer close(done)
					c, err = Read(d)
				}()
				select {
				case <-done:
				case <-time.After(time.Minute):
					t.Fatal("Read blocked")
				}
				runtime.ReadMemStats(&after)
				if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
					t.Errorf("Read allocated %d bytes", grown)
				}
				if err != nil {
					t.Fatal(err)
				}
				// The other files still count.
				if name != NotificationFd && c.NotificationFd != 5 || name != TimeoutKill && c.TimeoutKill != 300*time.Millisecond ||
					name != DownSignal && c.DownSignal != syscall.SIGHUP {
					t.Errorf("other files lost: %+v", c)
				}
				path := filepath.Join(d, name)
				switch name {
				case Run:
					if c.RunErr == nil || !strings.Contains(c.RunErr.Error(), path) {
						t.Errorf("RunErr = %v, want one naming %s", c.RunErr, path)
					}
				case Finish:
					// A regular file is tried (and fails to execute).
					if c.HasFinish != (h.kind == "huge") {
						t.Errorf("HasFinish = %v", c.HasFinish)
					}
				case Log:
					if c.HasLog != (h.kind == "directory") {
						t.Errorf("HasLog = %v", c.HasLog)
					}
				case Down, NoBackoff, NoCgroup:
					// Existence files: anything there but a dangling link.
					if v := c.Down || c.NoBackoff || c.NoCgroup; v == h.absent || len(c.Warnings) != 0 {
						t.Errorf("%s: %v, warnings %q", name, v, c.Warnings)
					}
				default:
					switch {
					case h.absent && len(c.Warnings) != 0:
						t.Errorf("warnings %q for a dangling link (absent)", c.Warnings)
					case h.absent:
					case len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], path+": "):
						t.Errorf("warnings %q, want one naming %s", c.Warnings, path)
					case h.notFile && !strings.Contains(c.Warnings[0], "not a regular file"):
						t.Errorf("warning %q does not say what is wrong", c.Warnings[0])
					}
				}
				if name != Run && c.RunErr != nil {
					t.Errorf("RunErr = %v", c.RunErr)
				}
				// ReadFiles, as a supervisor rereads single files, agrees.
				fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer unix.Close(fd)
				c2 := ReadFiles(fd, d, name)
				if c2.NotificationFd != c.NotificationFd && name == NotificationFd || len(c2.Warnings) != len(c.Warnings) && name != Run {
					t.Errorf("ReadFiles: %+v, Read: %+v", c2, c)
				}
			})
		}
	}
}

// TestCannotList: when the directory cannot be read (here: no
// descriptor left), the error says so, instead of blaming a file.
func TestCannotList(t *testing.T) {
	d := mk(t, map[string]string{"run": run})
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	// The lowest free descriptor is the limit: no other may be opened.
	low := lim
	low.Cur = uint64(fd) + 1
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	_, err = ReadAt(fd, d)
	unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if err == nil || !strings.Contains(err.Error(), "cannot list") || !strings.Contains(err.Error(), "too many open files") {
		t.Fatalf("err = %v, want cannot list: too many open files", err)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGTERM": syscall.SIGTERM, "term": syscall.SIGTERM,
		"HUP": syscall.SIGHUP, "9": syscall.SIGKILL, "SIGPWR": syscall.SIGPWR, "SIG9": syscall.SIGKILL, "cld": syscall.SIGCHLD} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "65", "SIGNOPE", " TERM", "-9"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q): no error", in)
		}
	}
	if SignalName(syscall.SIGTERM) != "SIGTERM" || SignalName(syscall.SIGIO) != "SIGIO" {
		t.Errorf("SignalName: %s %s", SignalName(syscall.SIGTERM), SignalName(syscall.SIGIO))
	}
}

// TestFilesCount: the listing's table has room for every file of Files,
// and the backoff files are among them.
func TestFilesCount(t *testing.T) {
	if len(Files) != nFiles {
		t.Fatalf("len(Files) = %d, nFiles = %d: update nFiles", len(Files), nFiles)
	}
	for _, b := range BackoffFiles {
		found := false
		for _, f := range Files {
			found = found || f == b
		}
		if !found || !strings.HasPrefix(b, "svinit-") {
			t.Errorf("%s: not in Files, or not named svinit-*", b)
		}
	}
}
