package testutil

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The process 1 harness: a test runs its own binary again as process 1
// of new PID and mount namespaces (RunPID1), where its TestMain sees a
// role in the environment and sets up what process 1 needs (making the
// mounts private, mounting, chrooting into a tmpfs the test prepared,
// execing the program under test). reboot(2) there ends the namespace,
// and the kernel reports the command to the parent as the signal that
// killed its process 1 (SIGHUP for a restart, SIGINT for power-off and
// halt). Root only: CI runs as root.

// NeedRoot fails the test unless it runs as root, saying what for.
func NeedRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("needs root (%s): run the tests as root", what)
	}
}

// TmpfsRoot mounts a tmpfs of the given size ("64m") on a new directory
// under t.TempDir() and returns the directory; it is detached when the
// test ends. Mounted here, on the host, it outlives the namespace: what
// was written there can be read back once process 1 is gone.
func TmpfsRoot(t testing.TB, size string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(root, unix.MNT_DETACH) })
	return root
}

// PID1 is how process 1 of a RunPID1 namespace ended.
type PID1 struct {
	Console  []byte           // everything written to its fd 3 (a pipe), by it and the processes it left there
	Stderr   string           // its standard error
	State    *os.ProcessState // nil if it could not be waited for
	Err      error            // from exec.Cmd.Wait
	TimedOut bool             // still running after the timeout: it was killed
}

// Signal returns the signal that killed process 1, 0 if none did.
func (p *PID1) Signal() syscall.Signal {
	if p.State == nil {
		return 0
	}
	ws, ok := p.State.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0
	}
	return ws.Signal()
}

// RunPID1 runs this test binary as process 1 of new PID and mount
// namespaces, with only env as its environment and the write end of a
// pipe on fd 3, and waits for it to end (the whole namespace ends with
// it), killing it after timeout. It returns once every copy of the
// pipe's write end is closed, with what was written to it.
func RunPID1(t testing.TB, env []string, timeout time.Duration) *PID1 {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	output := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(pr)
		output <- b
	}()
	cmd := exec.Command(self)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.ExtraFiles = []*os.File{pw}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		pw.Close()
		t.Fatalf("start the namespace: %v", err)
	}
	pw.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	p := &PID1{}
	select {
	case p.Err = <-done:
	case <-time.After(timeout):
		p.TimedOut = true
		cmd.Process.Kill()
		p.Err = <-done
	}
	// Every process of the namespace is gone with its process 1, so
	// every copy of the pipe's write end is closed.
	p.Console = <-output
	p.Stderr = stderr.String()
	p.State = cmd.ProcessState
	return p
}

// InitFail reports a failure of the namespace's process 1 before the
// program under test runs: on stderr, exit code 3.
func InitFail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "test init: "+format+"\n", a...)
	os.Exit(3)
}

// PrivateMounts makes every mount of process 1's namespace private, so
// that nothing mounted or unmounted there reaches the host.
func PrivateMounts() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	return nil
}

// Chroot makes root the root and the working directory.
func Chroot(root string) error {
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir: %w", err)
	}
	return nil
}
