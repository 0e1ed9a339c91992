// Command svbench measures svinit's supervision against s6 and runit,
// side by side in one run, alternating the implementations from round to
// round. It is driven by scripts/bench/bench.sh (make bench).
//
//	svbench run -bin DIR [-rounds 3] [-o out/bench-supervision.json]
//	svbench report -supervision F [-svlog F] [-image F] [-svrc F] [-boot F] -json out/bench.json -md docs/benchmarks.md
//
// run: scan-to-up (N = 10, 100, 1000) with the PSS of the supervision
// tree, scan-to-up with #!/bin/sh run scripts next to a bare spawn
// loop, sequential population, restart latency, control round trips.
// report: folds those figures, the logging and image benchmarks' output
// and the boot time into out/bench.json and docs/benchmarks.md, and
// prints the table.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: svbench run|report [options]")
		os.Exit(100)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = runMain(os.Args[2:])
	case "report":
		err = reportMain(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q (run, report)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "svbench: %v\n", err)
		os.Exit(1)
	}
}

func runMain(args []string) error {
	fs := flag.NewFlagSet("svbench run", flag.ContinueOnError)
	bin := fs.String("bin", "", "directory holding svscan, svscanctl, svc (built from this tree)")
	rounds := fs.Int("rounds", 3, "rounds per scenario")
	bigRounds := fs.Int("rounds-1000", 0, "rounds for N=1000 (default: -rounds)")
	runitRounds := fs.Int("rounds-runit", 1, "rounds for runit (its runsvdir polls: slow)")
	implList := fs.String("impls", "svinit,s6,runit", "implementations to compare")
	scen := fs.String("scenarios", "scan,sh,sequential,restart,control", "scenarios to run")
	shN := fs.Int("sh-n", 100, "services in the #!/bin/sh scan-to-up and the bare spawn loop")
	sizes := fs.String("n", "10,100,1000", "scan-to-up sizes")
	ctlIters := fs.Int("control-iters", 1000, "control round trips (direct)")
	cliIters := fs.Int("cli-iters", 100, "control round trips (client tools)")
	runitCtl := fs.Int("runit-control-iters", 5, "control round trips for runit (each takes ~1 s)")
	kills := fs.Int("kills", 20, "restart-latency kills per round")
	out := fs.String("o", "out/bench-supervision.json", "output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return fmt.Errorf("-bin is required")
	}
	if *bigRounds == 0 {
		*bigRounds = *rounds
	}
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "svbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{byKey: map[string]*row{}, runitControl: *runitCtl}
	if b.pause, err = buildPause(tmp); err != nil {
		return err
	}
	for _, n := range strings.Split(*implList, ",") {
		im, err := implByName(n, abs)
		if err != nil {
			return err
		}
		b.impls = append(b.impls, im)
	}
	// Interrupted: do not leave thousands of processes behind.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		if s := active; s != nil {
			s.cmd.Process.Kill()
			killBelow(s.root)
			os.RemoveAll(s.root)
		}
		os.RemoveAll(tmp)
		os.Exit(130)
	}()
	noRunit := func() []*impl {
		var l []*impl
		for _, im := range b.impls {
			if im.name != "runit" {
				l = append(l, im)
			}
		}
		return l
	}
	runit := func() []*impl {
		for _, im := range b.impls {
			if im.name == "runit" {
				return []*impl{im}
			}
		}
		return nil
	}
	// The main comparison (svinit vs s6) alternates over the rounds;
	// runit, much slower to notice new services, is measured for the
	// record with fewer rounds after them.
	both := func(n int, f func(im *impl, r int) error) error {
		if err := b.rounds(n, noRunit(), f); err != nil {
			return err
		}
		if r := runit(); r != nil {
			return b.rounds(min(n, *runitRounds), r, f)
		}
		return nil
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*scen, ",") {
		want[s] = true
	}
	if want["scan"] {
		for _, ns := range strings.Split(*sizes, ",") {
			var n int
			if _, err := fmt.Sscan(ns, &n); err != nil {
				return fmt.Errorf("-n: %q: %v", ns, err)
			}
			r := *rounds
			if n >= 1000 {
				r = *bigRounds
			}
			if err := both(r, func(im *impl, _ int) error { return b.scanToUp(im, n) }); err != nil {
				return err
			}
		}
	}
	if want["sh"] {
		// svinit and s6 alternate with the bare loop as a third party.
		loop := &impl{name: loopImpl}
		if err := b.rounds(*rounds, append(noRunit(), loop), func(im *impl, _ int) error {
			if im == loop {
				return b.spawnLoop(*shN)
			}
			return b.scanToUpSh(im, *shN)
		}); err != nil {
			return err
		}
	}
	if want["sequential"] {
		if err := both(*rounds, func(im *impl, _ int) error { return b.sequential(im, 20) }); err != nil {
			return err
		}
	}
	if want["restart"] {
		if err := both(*rounds, func(im *impl, _ int) error { return b.restart(im, *kills) }); err != nil {
			return err
		}
	}
	if want["control"] {
		if err := both(*rounds, func(im *impl, _ int) error { return b.control(im, *ctlIters, *cliIters) }); err != nil {
			return err
		}
	}
	j, err := json.MarshalIndent(b.rows, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(*out, append(j, '\n'), 0o644)
}

// buildPause makes the services' ./run: a static program that pauses
// forever (a shell script exec'ing sleep if there is no C compiler).
func buildPause(dir string) (string, error) {
	src := filepath.Join(dir, "pause.c")
	bin := filepath.Join(dir, "pause")
	if err := os.WriteFile(src, []byte("#include <unistd.h>\nint main(void) { for (;;) pause(); }\n"), 0o644); err != nil {
		return "", err
	}
	if cc, err := exec.LookPath("cc"); err == nil {
		if out, err := exec.Command(cc, "-static", "-Os", "-o", bin, src).CombinedOutput(); err == nil {
			return bin, nil
		} else {
			logf("cc -static failed (%v: %s): services run a shell script instead", err, strings.TrimSpace(string(out)))
		}
	}
	return bin, os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 100000\n"), 0o755)
}
