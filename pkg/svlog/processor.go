package svlog

import (
	"errors"
	"os"
	"os/exec"

	"golang.org/x/sys/unix"
)

// The processor (the ! directive): at each rotation it reads previous
// and writes processed, with state and newstate on fds 4 and 5; the
// rotation waits for it (rsWaitProcessor) and retries it when it fails.

// processorArgv is the command line for a processor script: execlineb
// -Pc when execlineb is on PATH (and the script used !), else /bin/sh -c.
func processorArgv(script string, shell bool) []string {
	if !shell {
		if p, err := exec.LookPath("execlineb"); err == nil {
			return []string{p, "-Pc", script}
		}
	}
	return []string{"/bin/sh", "-c", script}
}

// startProcessor runs the processor with previous on stdin, processed on
// stdout, state on fd 4 and newstate on fd 5, in the log directory.
func (d *Logdir) startProcessor() error {
	open := func(name string, flag int) (*os.File, error) {
		return os.OpenFile(d.path(name), flag|unix.O_CLOEXEC, 0o666)
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, x := range []struct {
		name string
		flag int
	}{
		{"previous", os.O_RDONLY},
		{"processed", os.O_WRONLY | os.O_CREATE | os.O_TRUNC},
		{"state", os.O_RDONLY},
		{"newstate", os.O_WRONLY | os.O_CREATE | os.O_TRUNC},
	} {
		f, err := open(x.name, x.flag)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	argv := processorArgv(d.cfg.Processor, d.cfg.Shell)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = d.cfg.Path
	cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0], files[1], os.Stderr
	cmd.ExtraFiles = []*os.File{nil, files[2], files[3]}
	if err := cmd.Start(); err != nil {
		return err
	}
	d.proc = cmd
	go func() {
		err := cmd.Wait()
		if d.procDone != nil {
			d.procDone(d, err)
		}
	}()
	return nil
}

// ProcessorDone is called by the logger's loop (not from a goroutine)
// when the processor exits.
func (d *Logdir) ProcessorDone(err error) {
	d.proc = nil
	if d.state != rsWaitProcessor {
		return
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && !ee.Exited() {
			d.fail("processor crashed in %s: %v", d.cfg.Path, err)
		} else {
			d.fail("processor failed in %s: %v", d.cfg.Path, err)
		}
		d.state = rsRunProcessor
		return
	}
	d.state = rsSyncProcessed
	d.rotate()
}
