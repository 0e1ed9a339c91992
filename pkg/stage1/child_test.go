package stage1

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/fifo"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the helper processes: the stage-2 child
// (EnvStage2=1) and a process that ignores SIGPIPE and execs a program.
func TestMain(m *testing.M) {
	if IsStage2Child() {
		os.Exit(Stage2Child())
	}
	if os.Getenv("STAGE1_TEST_SIGPIPE") == "1" {
		signal.Ignore(unix.SIGPIPE)
		err := unix.Exec("/bin/sh", []string{"sh", "-c", "grep SigIgn /proc/self/status"}, os.Environ())
		os.Stderr.WriteString(err.Error())
		os.Exit(111)
	}
	os.Exit(m.Run())
}

func helper(t *testing.T, ctx context.Context, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// The boot-time FIFO trick for real: process 1's side opens the writer
// at once with no reader; the stage-2 child blocks in its open until the
// logger (here, the test) opens the FIFO for reading, and only then runs
// stage 2 with its output in the FIFO.
func TestStage2ChildWaitsForLogger(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("no /bin/sh for the fake stage 2: %v (apt-get install dash)", err)
	}
	dir := t.TempDir()
	ff := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(ff, 0o600); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	stage2 := filepath.Join(dir, "stage2")
	os.WriteFile(stage2, []byte("#!/bin/sh\ntouch "+marker+"\necho \"stage2 ran, PATH=$PATH\"\necho to-stderr >&2\n"), 0o755)

	// Process 1's writer: must not block without a reader.
	opened := make(chan int, 1)
	go func() {
		fd, err := fifo.OpenWriter(ff, unix.O_CLOEXEC, true)
		if err != nil {
			t.Error(err)
		}
		opened <- fd
	}()
	var pid1fd int
	select {
	case pid1fd = <-opened:
	case <-time.After(30 * time.Second):
		t.Fatal("process 1's non-blocking open of the FIFO blocked")
	}
	defer unix.Close(pid1fd)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := helper(t, ctx, EnvStage2+"=1", EnvStage2FIFO+"="+ff, EnvStage2Prog+"="+stage2)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	// Without a reader the child stays blocked in open(2): wait until
	// the kernel shows it sleeping in the FIFO open, then check stage 2
	// has not run.
	blocked := false
	for i := 0; i < 600 && !blocked; i++ {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/wchan")
		// wait_for_partner: the kernel's FIFO open waiting for a reader.
		blocked = strings.Contains(string(b), "wait_for_partner") || strings.Contains(string(b), "fifo")
		if !blocked {
			time.Sleep(50 * time.Millisecond)
		}
	}
	select {
	case err := <-waited:
		t.Fatalf("stage-2 child ended without a reader: %v\n%s", err, stderr.String())
	default:
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("stage 2 ran before the logger opened the FIFO")
	}
	if !blocked {
		t.Log("could not see the child blocked in /proc/PID/wchan; relying on the marker check")
	}

	// The logger appears.
	r, err := os.OpenFile(ff, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Process 1 would keep its writer; close ours so EOF comes when
	// stage 2 is done.
	unix.Close(pid1fd)
	pid1fd = -1
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	r.Close()
	if err := <-waited; err != nil {
		t.Fatalf("stage-2 child: %v\n%s", err, stderr.String())
	}
	want := []string{"stage2 ran, PATH=" + bootfs.DefaultPath, "to-stderr"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("logger read %q, want %q", lines, want)
	}
}

func TestStage2ChildMissingProgram(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	missing := filepath.Join(t.TempDir(), "no-stage2")
	cmd := helper(t, ctx, EnvStage2+"=1", EnvStage2FIFO+"=", EnvStage2Prog+"="+missing)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 111 {
		t.Fatalf("exit %v, want 111; output %s", err, out)
	}
	if !strings.Contains(string(out), "uinit: stage 2: cannot run "+missing+": no such file or directory") {
		t.Fatalf("message %q", out)
	}
}

// signal.Ignore sets SIG_IGN in the kernel, and an ignored disposition
// survives execve: what process 1 relies on for svscan's children.
func TestSIGPIPEIgnoredAcrossExec(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Fatalf("no /bin/sh: %v (apt-get install dash)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := helper(t, ctx, "STAGE1_TEST_SIGPIPE=1").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("unexpected output %q", out)
	}
	mask, err := strconv.ParseUint(f[1], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if mask&(1<<(uint(syscall.SIGPIPE)-1)) == 0 {
		t.Fatalf("SigIgn %s: SIGPIPE not ignored after exec", f[1])
	}
}
