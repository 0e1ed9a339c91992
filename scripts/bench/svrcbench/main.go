// Command svrcbench measures svrc, the service manager, for make bench
// (scripts/bench/bench.sh):
//
//   - layered start: 100 longruns in 10 dependency layers (each service
//     of layer k needs every service of layer k-1) and 100 independent
//     ones, each ready (notification-fd) 20 ms after it starts; the
//     time of `svrc -u change all` until it exits with everything up
//     and ready, next to the critical-path lower bound: the same
//     service directories built and renamed in layer by layer by a
//     loop that waits only for each layer's readiness (no definitions
//     to read, no plan, no state);
//   - plan: the time `svrc -n` needs to read, check and plan 1000
//     service definitions (oneshots and longruns in chains), the cost
//     svrc pays on every run since it has no compile step.
//
// Each round runs on a fresh svscan and scan directory; the layered
// rounds alternate svrc and the bound (A B, B A, ...).
//
//	svrcbench -bin DIR [-rounds 3] [-o out/bench-svrc.json]
//
// DIR holds svscan and svrc built from this tree. The output is a list
// of rows in svbench's format, for `svbench report -svrc`.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/svinit/svinit/pkg/rc"
	"github.com/svinit/svinit/pkg/rc/rctest"
	"github.com/svinit/svinit/pkg/servicedir"
	"github.com/svinit/svinit/scripts/bench/benchrow"
)

// row is the row svbench report reads.
type row = benchrow.Row

// Scenario names, as svbench report shows them.
const (
	ScenarioLayered = "svrc -u change"
	ScenarioPlan    = "svrc read + plan"
)

const readyDelay = "0.02" // seconds from start to readiness

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "svrcbench: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("svrcbench", flag.ContinueOnError)
	bin := fs.String("bin", "", "directory holding svscan and svrc built from this tree")
	rounds := fs.Int("rounds", 3, "rounds per scenario")
	out := fs.String("o", "out/bench-svrc.json", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("-bin DIR is required (svscan and svrc built from this tree)")
	}
	for _, c := range []string{"svscan", "svrc"} {
		if _, err := os.Stat(filepath.Join(*bin, c)); err != nil {
			return fmt.Errorf("%s: %v (go build -o DIR/ ./cmds/svscan ./cmds/svrc)", filepath.Join(*bin, c), err)
		}
	}
	if _, err := exec.LookPath("sleep"); err != nil {
		return fmt.Errorf("sleep not found: the services run /bin/sh and sleep (apt-get install coreutils): %v", err)
	}
	tmp, err := os.MkdirTemp("", "svrcbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{bin: *bin, tmp: tmp}

	layered := &row{Scenario: ScenarioLayered, Param: "100 longruns in 10 layers + 100 independent", Unit: "ms",
		Note: "until all up and ready (each 20 ms after start); bound: the same directories installed layer by layer, " +
			"waiting only for each layer's readiness", Samples: map[string][]float64{}}
	defs, err := layeredDefs(filepath.Join(tmp, "layered"))
	if err != nil {
		return err
	}
	db, probs := rc.Load(defs)
	if probs != nil {
		return probs
	}
	sel, err := db.Resolve([]string{"all"})
	if err != nil {
		return err
	}
	layers := db.Layers(db.Closure(sel, true), true)
	for i := 0; i < *rounds; i++ {
		order := []string{"svrc", "bound"}
		if i%2 == 1 {
			order = []string{"bound", "svrc"}
		}
		var got [2]float64
		for _, im := range order {
			var d time.Duration
			var err error
			if im == "svrc" {
				d, err = b.svrcUp(defs)
			} else {
				d, err = b.bound(db, layers)
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", i+1, im, err)
			}
			ms := float64(d.Microseconds()) / 1000
			if im == "svrc" {
				layered.Add("svinit", ms) // svbench report's name for this tree
			} else {
				layered.Add("bound", ms)
			}
			if im == "svrc" {
				got[0] = ms
			} else {
				got[1] = ms
			}
		}
		fmt.Printf("layered round %d: svrc %.1f ms, bound %.1f ms, ratio %.2f\n", i+1, got[0], got[1], got[0]/got[1])
	}
	s, bd := benchrow.Median(layered.Samples["svinit"]), benchrow.Median(layered.Samples["bound"])
	fmt.Printf("layered (median of %d): svrc %.1f ms, critical-path bound %.1f ms, ratio %.2f (target <= 1.2)\n", *rounds, s, bd, s/bd)

	plan := &row{Scenario: ScenarioPlan, Param: "1000 definitions", Unit: "ms",
		Note:    "svrc -n 1 -u change all, one process: read and check every definition, plan 1000 transitions in 100 layers",
		Samples: map[string][]float64{}}
	pdefs, err := planDefs(filepath.Join(tmp, "plan"))
	if err != nil {
		return err
	}
	scan := filepath.Join(tmp, "plan-scan")
	if err := os.Mkdir(scan, 0o755); err != nil {
		return err
	}
	for i := 0; i < *rounds; i++ {
		start := time.Now()
		outb, err := exec.Command(filepath.Join(b.bin, "svrc"), "-c", pdefs, "-l", scan, "-n", "1", "-u", "change", "all").CombinedOutput()
		d := time.Since(start)
		if err != nil {
			return fmt.Errorf("svrc -n: %v\n%s", err, outb)
		}
		if n := countLines(outb); n != 1000 {
			return fmt.Errorf("svrc -n printed %d transitions, want 1000", n)
		}
		ms := float64(d.Microseconds()) / 1000
		plan.Add("svinit", ms)
		fmt.Printf("plan round %d: %.1f ms\n", i+1, ms)
	}
	fmt.Printf("plan (median of %d): %.1f ms to read, check and plan 1000 definitions\n", *rounds, benchrow.Median(plan.Samples["svinit"]))

	j, err := json.MarshalIndent([]*row{layered, plan}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, append(j, '\n'), 0o644)
}

type bench struct {
	bin, tmp string
	seq      int
}

// layeredDefs writes the layered scenario's definitions: l0-0..l9-9,
// free-0..free-99 and the bundle all.
func layeredDefs(root string) (string, error) {
	run := "#!/bin/sh\nsleep " + readyDelay + "\necho >&3\nexec sleep 100000\n"
	return root, rctest.Write(root, rctest.Layered(run))
}

// planDefs writes 1000 definitions, half oneshots, half longruns with
// readiness, each needing the one ten before it, and the bundle all.
func planDefs(root string) (string, error) {
	return root, rctest.Write(root, rctest.Chains(1000, "#!/bin/sh\nexec sleep 100000\n"))
}

// scanner is one svscan on a fresh scan directory.
type scanner struct {
	dir  string
	cmd  *exec.Cmd
	out  string
	done chan struct{}
}

func (b *bench) start() (*scanner, error) {
	b.seq++
	dir := filepath.Join(b.tmp, fmt.Sprintf("scan%d", b.seq))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	out := dir + ".out"
	f, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(filepath.Join(b.bin, "svscan"), dir)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &scanner{dir: dir, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	// Ready once its control FIFO has a reader; nothing to subscribe
	// to before it exists.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := servicedir.WriteControl(dir, servicedir.ScanDir, nil)
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("svscan did not start on %s: %v", dir, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// stop quits the scanner (q: services down, then exit) and kills what
// is left of its process group.
func (s *scanner) stop() {
	servicedir.WriteControl(s.dir, servicedir.ScanDir, []byte("q"))
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

func (s *scanner) output() string {
	b, _ := os.ReadFile(s.out)
	return string(b)
}

// svrcUp times svrc -u change all on a fresh scanner.
func (b *bench) svrcUp(defs string) (time.Duration, error) {
	s, err := b.start()
	if err != nil {
		return 0, err
	}
	defer s.stop()
	start := time.Now()
	out, err := exec.Command(filepath.Join(b.bin, "svrc"), "-c", defs, "-l", s.dir, "-u", "change", "all").CombinedOutput()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("svrc -u change all: %v\n%s\nsvscan:\n%s", err, out, s.output())
	}
	return d, nil
}

// bound installs the same services layer by layer on a fresh scanner:
// each layer's directories built aside and renamed in, one scan, then
// a wait for every one of them to be ready.
func (b *bench) bound(db *rc.DB, layers [][]int) (time.Duration, error) {
	s, err := b.start()
	if err != nil {
		return 0, err
	}
	defer s.stop()
	aside := filepath.Join(s.dir, ".bound")
	if err := os.Mkdir(aside, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	for _, layer := range layers {
		var ls []*servicedir.Listener
		closeAll := func() {
			for _, l := range ls {
				l.Close()
			}
		}
		for _, id := range layer {
			svc := db.Atoms()[id]
			tmp := filepath.Join(aside, svc.Name)
			if err := buildDir(svc.Dir, tmp); err != nil {
				closeAll()
				return 0, err
			}
			dst := filepath.Join(s.dir, svc.Name)
			if err := os.Rename(tmp, dst); err != nil {
				closeAll()
				return 0, err
			}
			l, err := servicedir.ListenFifodir(filepath.Join(dst, "event"))
			if err != nil {
				closeAll()
				return 0, err
			}
			ls = append(ls, l)
		}
		if err := servicedir.WriteControl(s.dir, servicedir.ScanDir, []byte("a")); err != nil {
			closeAll()
			return 0, err
		}
		for _, l := range ls {
			if err := waitReady(l); err != nil {
				closeAll()
				return 0, fmt.Errorf("%s: %v\nsvscan:\n%s", l.Path(), err, s.output())
			}
		}
		closeAll()
	}
	return time.Since(start), nil
}

// buildDir makes a service directory from a longrun definition, as
// svrc does: its run and notification-fd copied, an event fifodir.
func buildDir(def, dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"run", "notification-fd"} {
		src := filepath.Join(def, f)
		st, err := os.Stat(src)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, st.Mode().Perm()); err != nil {
			return err
		}
	}
	return servicedir.MakeFifodir(filepath.Join(dir, "event"), -1)
}

// waitReady reads events until U (up and ready).
func waitReady(l *servicedir.Listener) error {
	deadline := time.Now().Add(time.Minute)
	buf := make([]byte, 32)
	for {
		n, err := l.Read(buf, deadline)
		for _, c := range buf[:n] {
			if c == 'U' {
				return nil
			}
		}
		if err != nil {
			return err
		}
	}
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
