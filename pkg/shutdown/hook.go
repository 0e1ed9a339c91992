package shutdown

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/svinit/svinit/pkg/bootfs"
	"github.com/svinit/svinit/pkg/cli"
)

// DefaultHookTimeout bounds the image's shutdown hook.
const DefaultHookTimeout = 60 * time.Second

// DefaultAbortAfter is how long svinit-shutdown lets svscan bring the
// services down before it asks svscan to exec its finish script at once.
const DefaultAbortAfter = 10 * time.Second

// Hook is one run of svinit-shutdown, the command svscan's
// .s6-svscan/SIG* hooks run.
type Hook struct {
	Action  Action
	Record  string        // bootfs.ShutdownRecord
	Hook    string        // bootfs.ShutdownHook; run if it is an executable file
	Scandir string        // bootfs.Scandir: where .s6-svscan/control is
	Timeout time.Duration // for Hook; 0 = no limit
	Stdout  io.Writer     // the hook's stdout and stderr, and our messages
	Now     func() time.Time

	// AbortAfter: if we are still alive that long after writing "t"
	// (the final stage kills us when it starts), svscan is stuck waiting
	// for some service: write "b" so it execs its finish script at
	// once. 0: never.
	AbortAfter time.Duration
	// Detach, if set, runs before that wait: it takes our stdout and
	// stderr off the catch-all logger's FIFO, so we do not keep the
	// logger from seeing EOF.
	Detach func()
	Sleep  func(time.Duration)
}

// NewHook returns a Hook with the image's paths.
func NewHook(a Action, stdout io.Writer) *Hook {
	return &Hook{Action: a, Record: bootfs.ShutdownRecord, Hook: bootfs.ShutdownHook, Scandir: bootfs.Scandir,
		Timeout: DefaultHookTimeout, Stdout: stdout, Now: time.Now,
		AbortAfter: DefaultAbortAfter, Sleep: time.Sleep}
}

func (h *Hook) logf(format string, a ...any) {
	fmt.Fprintf(h.Stdout, "svinit-shutdown: "+format+"\n", a...)
}

// Run records the action, runs the image's shutdown hook (only for the
// first request of this boot: a later one just changes the action), and
// asks svscan to stop by writing "t" to .s6-svscan/control; then, with
// AbortAfter, waits and writes "b" if the final stage has not started.
func (h *Hook) Run() error {
	if err := h.request(); err != nil {
		return err
	}
	if h.AbortAfter <= 0 {
		return nil
	}
	if h.Detach != nil {
		h.Detach()
	}
	h.Sleep(h.AbortAfter)
	h.logf("svscan still has not run its finish script %v after being asked to stop; telling it to now", h.AbortAfter)
	return h.control('b')
}

func (h *Hook) request() error {
	// One request at a time: a second one waits for the first's hook.
	if err := os.MkdirAll(filepath.Dir(h.Record), 0o755); err != nil {
		return cli.Exitf(cli.ExitSystem, "create %s: %v", filepath.Dir(h.Record), err)
	}
	lock, err := os.OpenFile(h.Record+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "open %s.lock: %v", h.Record, err)
	}
	defer lock.Close()
	for {
		err = unix.Flock(int(lock.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "lock %s.lock: %v", h.Record, err)
	}

	prev, perr := ReadRecord(h.Record)
	first := perr != nil || prev.Action == None
	rec := Record{Action: h.Action, Since: h.Now()}
	if !first && !prev.Since.IsZero() {
		rec.Since = prev.Since // the shutdown began with the first request
	}
	if err := WriteRecord(h.Record, rec); err != nil {
		return cli.Exitf(cli.ExitSystem, "%v", err)
	}
	if first {
		h.logf("%s requested", h.Action)
		h.runHook()
	} else {
		h.logf("%s requested while %s was under way: the system will %s", h.Action, prev.Action, h.Action)
	}
	return h.control('t')
}

// runHook runs the image's shutdown hook with the action as its
// argument, in its own process group, killed (the whole group) when the
// timeout expires. Its failure never stops the shutdown.
func (h *Hook) runHook() {
	fi, err := os.Stat(h.Hook)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		h.logf("%s: not an executable file (%v); skipped", h.Hook, err)
		return
	}
	ctx := context.Background()
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Hook, h.Action.String())
	cmd.Stdout, cmd.Stderr = h.Stdout, h.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		h.logf("%s %s: still running after %v; killed", h.Hook, h.Action, h.Timeout)
	case err != nil:
		h.logf("%s %s: %v; going on with the shutdown", h.Hook, h.Action, err)
	}
}

// control writes the letter to the scan directory's control FIFO.
func (h *Hook) control(letter byte) error {
	p := filepath.Join(h.Scandir, ".s6-svscan", "control")
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ENXIO {
		return cli.Exitf(cli.ExitNotSupervised, "%s: svscan is not running on %s (nobody reads its control FIFO)", p, h.Scandir)
	}
	if err != nil {
		return cli.Exitf(cli.ExitSystem, "open %s: %v", p, err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, []byte{letter}); err != nil {
		return cli.Exitf(cli.ExitSystem, "write to %s: %v", p, err)
	}
	return nil
}
