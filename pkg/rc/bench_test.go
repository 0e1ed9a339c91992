package rc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/svinit/svinit/pkg/rc/rctest"
)

// benchDefs writes 100 longruns in 10 dependency layers (each service
// of layer k needs every service of layer k-1) and 100 independent
// ones, all notifying readiness after a short start-up, and a bundle
// "all" of them.
func benchDefs(b *testing.B) string {
	return defs(b, b.TempDir(), rctest.Layered(sh+"sleep 0.02\necho >&3\nexec sleep 1000\n"))
}

// BenchmarkUpLayered compares svrc -u change all (100 longruns in 10
// layers and 100 independent ones) with its critical-path lower bound:
// the same service directories installed layer by layer by a loop that
// waits only for each layer's readiness. It reports both times and
// their ratio.
func BenchmarkUpLayered(b *testing.B) {
	root := benchDefs(b)
	db, probs := Load(root)
	if probs != nil {
		b.Fatal(probs)
	}
	sel, _ := db.Resolve([]string{"all"})
	var svrcT, boundT time.Duration
	for i := 0; i < b.N; i++ {
		// svrc.
		b.StopTimer()
		scan, out, stop := scannerStop(b)
		live, err := OpenLive(scan, db, true, false)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		p := db.Plan(sel, true, false, func(id int) bool { return live.IsUp(db.atoms[id]) })
		res := live.Execute(db, p, Options{Timeout: time.Minute})
		svrcT += time.Since(start)
		b.StopTimer()
		if len(res.Failed) > 0 || len(res.Done) != 200 {
			b.Fatalf("svrc: %d done, failed %+v\n%s", len(res.Done), res.Failed, out())
		}
		live.Close()
		stop()

		// The bound: layer by layer.
		scan2, out2, stop2 := scannerStop(b)
		live2, err := OpenLive(scan2, db, true, false)
		if err != nil {
			b.Fatal(err)
		}
		layers := db.Layers(db.Closure(sel, true), true)
		start = time.Now()
		for _, layer := range layers {
			var ws []*watch
			for _, id := range layer {
				s := db.atoms[id]
				tmp, err := live2.build(s, true)
				if err != nil {
					b.Fatal(err)
				}
				if err := live2.install(tmp, s.Name); err != nil {
					b.Fatal(err)
				}
				w, err := listen(filepath.Join(scan2, s.Name))
				if err != nil {
					b.Fatal(err)
				}
				ws = append(ws, w)
			}
			if err := live2.rescan(); err != nil {
				b.Fatal(err)
			}
			for _, w := range ws {
				for {
					c, err := w.next(time.Now().Add(time.Minute))
					if err != nil {
						b.Fatalf("bound: %s: %v\n%s", w.dir, err, out2())
					}
					if c == 'U' {
						break
					}
				}
				w.close()
			}
		}
		boundT += time.Since(start)
		b.StopTimer()
		live2.Close()
		stop2()
	}
	n := float64(b.N)
	b.ReportMetric(float64(svrcT.Milliseconds())/n, "svrc-ms")
	b.ReportMetric(float64(boundT.Milliseconds())/n, "bound-ms")
	b.ReportMetric(float64(svrcT)/float64(boundT), "ratio")
	fmt.Fprintf(os.Stderr, "svrc -u change all: %v, critical-path bound: %v, ratio %.2f\n",
		svrcT/time.Duration(b.N), boundT/time.Duration(b.N), float64(svrcT)/float64(boundT))
}
