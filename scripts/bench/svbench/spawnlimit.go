package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/spawn"
)

// Spawning at the limit: the same scan-to-up, but each service's ./run is
// a realistic shell script, so the children compete with the supervisor
// for the CPU while it is still spawning. The bare spawn loop is the
// physical limit: one process spawning the same run scripts one after
// the other, posix_spawn style (pkg/spawn, new session, working
// directory, stdio on /dev/null), with nothing else to do.

// shScenario is the scenario's name; loopImpl the bare loop's column.
const (
	shScenario = "scan-to-up, #!/bin/sh run"
	loopImpl   = "spawn-loop"
)

// shRun is the run script: what a service's ./run typically does before
// exec'ing its daemon.
func shRun(pause string) string {
	return "#!/bin/sh\nexec 2>&1\nexec " + pause + "\n"
}

// stageSh prepares n services whose ./run is shRun.
func stageSh(dir, p, pause string, n int) ([]string, error) {
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s%04d", p, i)
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(d, "run"), []byte(shRun(pause)), 0o755); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// scanToUpSh is scanToUp with shell run scripts (no memory figures).
func (b *bench) scanToUpSh(im *impl, n int) error {
	s, err := startSession(im, b.pause)
	if err != nil {
		return err
	}
	defer s.stop()
	names, err := stageSh(s.stage, "h", b.pause, n)
	if err != nil {
		return err
	}
	d, err := s.timeUp(im, names)
	if err != nil {
		return err
	}
	b.row(shScenario, fmt.Sprintf("N=%d", n), "ms", "").Add(im.name, ms(d))
	logf("%s %s N=%d: %.1f ms", shScenario, im.name, n, ms(d))
	return nil
}

// spawnLoop spawns the n run scripts in a loop and reports the time from
// the first spawn to the return of the last; then it kills and reaps
// them.
func (b *bench) spawnLoop(n int) error {
	root, err := os.MkdirTemp("", "svbench-loop-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	names, err := stageSh(root, "h", b.pause, n)
	if err != nil {
		return err
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	sp, err := spawn.NewSpawner()
	if err != nil {
		return err
	}
	defer sp.Close()
	fd := int(null.Fd())
	pids := make([]int, 0, n)
	defer func() {
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		for _, p := range pids {
			var ws syscall.WaitStatus
			syscall.Wait4(p, &ws, 0, nil)
		}
	}()
	t0 := time.Now()
	for _, name := range names {
		d := filepath.Join(root, name)
		run := filepath.Join(d, "run")
		pid, err := sp.Start(run, []string{run}, &spawn.Attr{Dir: d, Setsid: true, Files: []int{fd, fd, fd}})
		if err != nil {
			return fmt.Errorf("spawn loop: %s: %v", run, err)
		}
		pids = append(pids, pid)
	}
	d := time.Since(t0)
	b.row(shScenario, fmt.Sprintf("N=%d", n), "ms", "").Add(loopImpl, ms(d))
	logf("%s %s N=%d: %.1f ms", shScenario, loopImpl, n, ms(d))
	return nil
}
