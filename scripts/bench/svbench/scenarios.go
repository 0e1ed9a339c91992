package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/svinit/svinit/scripts/bench/benchrow"
)

// row is one measured figure: a scenario with its parameter, one sample
// per round per implementation (the format svbench report reads).
type row = benchrow.Row

type bench struct {
	impls        []*impl
	pause        string
	rows         []*row
	byKey        map[string]*row
	runitControl int
}

func (b *bench) row(scenario, param, unit, note string) *row {
	k := scenario + "\x00" + param
	if r := b.byKey[k]; r != nil {
		return r
	}
	r := &row{Scenario: scenario, Param: param, Unit: unit, Note: note, Samples: map[string][]float64{}}
	b.byKey[k] = r
	b.rows = append(b.rows, r)
	return r
}

// staged starts a session of im with n service directories staged
// (named from prefix p, not yet in the scan directory); the caller
// stops it.
func (b *bench) staged(im *impl, p string, n int) (*session, []string, error) {
	s, err := startSession(im, b.pause)
	if err != nil {
		return nil, nil, err
	}
	names, err := s.stageServices(p, n)
	if err != nil {
		s.stop()
		return nil, nil, err
	}
	return s, names, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rounds runs f for each implementation, alternating the order from
// round to round (A B C, C B A, A B C, ...).
func (b *bench) rounds(n int, impls []*impl, f func(im *impl, round int) error) error {
	for r := 1; r <= n; r++ {
		order := append([]*impl(nil), impls...)
		if r%2 == 0 {
			for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
				order[i], order[j] = order[j], order[i]
			}
		}
		for _, im := range order {
			if err := f(im, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "svbench: "+format+"\n", a...)
}

// scanToUp: n services appear in the scan dir of a running scanner, then
// the scanner is told to rescan (runsvdir notices by itself); the clock
// runs until every status file shows a pid. One second later the PSS of
// the supervision tree is taken.
func (b *bench) scanToUp(im *impl, n int) error {
	s, names, err := b.staged(im, "s", n)
	if err != nil {
		return err
	}
	defer s.stop()
	d, err := s.timeUp(im, names)
	if err != nil {
		return err
	}
	p := fmt.Sprintf("N=%d", n)
	b.row("scan-to-up", p, "ms", "").Add(im.name, ms(d))
	time.Sleep(time.Second)
	m, err := memOf(im.tree(s.cmd.Process.Pid))
	if err != nil {
		return fmt.Errorf("%s: memory: %v", im.name, err)
	}
	b.row("memory (PSS)", p, "MB", "").Add(im.name, float64(m.pss)/1024)
	b.row("memory (anonymous PSS)", p, "MB", "").Add(im.name, float64(m.anon)/1024)
	logf("scan-to-up %s %s: %.1f ms; PSS %.2f MB (anon %.2f MB, RSS %.2f MB)", im.name, p, ms(d), float64(m.pss)/1024, float64(m.anon)/1024, float64(m.rss)/1024)
	return nil
}

// sequential: 20 services added one at a time, each after the previous
// one is up.
func (b *bench) sequential(im *impl, n int) error {
	s, names, err := b.staged(im, "q", n)
	if err != nil {
		return err
	}
	defer s.stop()
	t0 := time.Now()
	for _, name := range names {
		if err := s.add(name); err != nil {
			return err
		}
		if im.trigger != nil {
			if err := im.trigger(s.scan); err != nil {
				return err
			}
		}
		if err := s.waitPid(name, func(pid int, up bool) bool { return up }, 60*time.Second); err != nil {
			return err
		}
	}
	d := time.Since(t0)
	b.row("sequential population", fmt.Sprintf("N=%d", n), "ms", "").Add(im.name, ms(d))
	logf("sequential %s N=%d: %.1f ms", im.name, n, ms(d))
	return nil
}

// restart: SIGKILL a service up for more than 1 s; time until its status
// shows a new pid. kills kills spread over 10 services.
func (b *bench) restart(im *impl, kills int) error {
	s, names, err := b.staged(im, "r", 10)
	if err != nil {
		return err
	}
	defer s.stop()
	for _, name := range names {
		if err := s.add(name); err != nil {
			return err
		}
	}
	if im.trigger != nil {
		if err := im.trigger(s.scan); err != nil {
			return err
		}
	}
	if err := s.waitUp(names, 60*time.Second); err != nil {
		return err
	}
	last := make([]time.Time, len(names))
	for i := range last {
		last[i] = time.Now()
	}
	var lat []float64
	for k := 0; k < kills; k++ {
		i := k % len(names)
		time.Sleep(time.Until(last[i].Add(1050 * time.Millisecond)))
		old, _ := im.status(s.dir(names[i]))
		if old == 0 {
			return fmt.Errorf("%s: service %s has no pid", im.name, names[i])
		}
		if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
			return fmt.Errorf("%s: kill %d: %v", im.name, old, err)
		}
		t0 := time.Now()
		if err := s.waitPid(names[i], func(pid int, up bool) bool { return up && pid != old }, 30*time.Second); err != nil {
			return err
		}
		lat = append(lat, ms(time.Since(t0)))
		last[i] = time.Now()
	}
	med := benchrow.Median(lat)
	b.row("restart latency", "median of "+fmt.Sprint(kills)+" kills", "ms", "").Add(im.name, med)
	logf("restart %s: median %.3f ms (min %.3f, max %.3f)", im.name, med, minOf(lat), maxOf(lat))
	return nil
}

// control: d then u, until up again, iters times: letters written to
// supervise/control directly, state read from supervise/status.
func (b *bench) control(im *impl, iters, cliIters int) error {
	p := fmt.Sprintf("%d round trips, direct", iters)
	if im.name == "runit" {
		// runsv waits until 1 s after the previous start: ~1 s a trip.
		iters = min(iters, b.runitControl)
	}
	s, names, err := b.staged(im, "c", 1)
	if err != nil {
		return err
	}
	defer s.stop()
	name := names[0]
	if err := s.add(name); err != nil {
		return err
	}
	if im.trigger != nil {
		if err := im.trigger(s.scan); err != nil {
			return err
		}
	}
	if err := s.waitUp(names, 60*time.Second); err != nil {
		return err
	}
	time.Sleep(1100 * time.Millisecond)
	ctl, err := os.OpenFile(filepath.Join(s.dir(name), "supervise", "control"), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer ctl.Close()
	isDown := func(pid int, up bool) bool { return pid == 0 }
	isUp := func(pid int, up bool) bool { return up }
	var lat []float64
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		t := time.Now()
		if _, err := ctl.Write([]byte{'d'}); err != nil {
			return err
		}
		if err := s.waitPid(name, isDown, 30*time.Second); err != nil {
			return err
		}
		if _, err := ctl.Write([]byte{'u'}); err != nil {
			return err
		}
		if err := s.waitPid(name, isUp, 30*time.Second); err != nil {
			return err
		}
		lat = append(lat, ms(time.Since(t)))
	}
	mean := ms(time.Since(t0)) / float64(iters)
	b.row("control d+u", p, "ms", "mean round trip: letters written to supervise/control, status polled (runit: fewer trips, see Method)").Add(im.name, mean)
	logf("control %s direct: mean %.3f ms, median %.3f ms", im.name, mean, benchrow.Median(lat))
	if im.cli == nil || cliIters == 0 {
		return nil
	}
	t0 = time.Now()
	for i := 0; i < cliIters; i++ {
		if err := im.cli(s.dir(name), 'd'); err != nil {
			return err
		}
		if err := im.cli(s.dir(name), 'u'); err != nil {
			return err
		}
	}
	mean = ms(time.Since(t0)) / float64(cliIters)
	b.row("control d+u", fmt.Sprintf("%d round trips, CLI", cliIters), "ms", "svc -wd -d; svc -wu -u (s6-svc for s6)").Add(im.name, mean)
	logf("control %s CLI: mean %.3f ms", im.name, mean)
	return nil
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
