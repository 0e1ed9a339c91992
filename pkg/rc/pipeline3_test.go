package rc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A pipeline of three (prod -> filt -> sink): each member is installed
// under its own name, the producers with producer-for, and runs on the
// pipes svscan holds per consumer; the producer killed while lines flow
// loses none.
func TestPipelineOfThreeUnderSvscan(t *testing.T) {
	const last = 300
	e := setup(t, map[string]string{
		"prod/type": "longrun\n", "prod/producer-for": "filt\n",
		// The count survives a kill: written aside, then renamed.
		"prod/run": sh + "n=$(cat $T/cnt 2>/dev/null); n=${n:-0}\n" +
			fmt.Sprintf("while [ \"$n\" -lt %d ]; do n=$((n+1)); echo $n; echo $n > $T/cnt.new; mv $T/cnt.new $T/cnt; sleep 0.005; done\n", last) +
			"exec sleep 1000\n",
		"filt/type": "longrun\n", "filt/consumer-for": "prod\n", "filt/producer-for": "sink\n",
		"filt/run":  sh + "exec cat\n",
		"sink/type": "longrun\n", "sink/consumer-for": "filt\n", "sink/pipeline-name": "three\n",
		"sink/run": sh + "exec cat >> $T/out\n",
	})
	e.mustChange(true, "three")
	for _, n := range []string{"prod", "filt", "sink"} {
		if got, want := e.live.ServiceDir(n), filepath.Join(e.live.Scan, n); got != want {
			t.Fatalf("%s lives in %s, want %s", n, got, want)
		}
		if !e.isUp(n) {
			t.Fatalf("%s not up after the change", n)
		}
	}
	for n, c := range map[string]string{"prod": "filt\n", "filt": "sink\n"} {
		if b, err := os.ReadFile(filepath.Join(e.live.Scan, n, "producer-for")); err != nil || string(b) != c {
			t.Fatalf("%s/producer-for: %q, %v; want %q", n, b, err, c)
		}
	}
	if _, err := os.Stat(filepath.Join(e.live.Scan, "sink", "producer-for")); err == nil {
		t.Fatal("sink has a producer-for")
	}
	count := func(n int) func() bool { return func() bool { return len(e.lines("out")) >= n } }
	e.waitFor("50 lines", count(50))
	if err := control(e.live.ServiceDir("prod"), "k"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("the last line", func() bool { return indexOf(e.lines("out"), fmt.Sprint(last)) >= 0 })
	got := map[string]bool{}
	for _, l := range e.lines("out") {
		got[l] = true
	}
	for i := 1; i <= last; i++ {
		if !got[fmt.Sprint(i)] {
			t.Fatalf("line %d lost (a restart broke the pipe); out: %s", i, strings.Join(e.lines("out"), " "))
		}
	}
	if fi, err := os.Stat(filepath.Join(e.live.ServiceDir("prod"), "supervise", "death_tally")); err != nil || fi.Size() == 0 {
		t.Fatalf("prod was not killed and restarted: %v", err)
	}
	// Down from the last consumer: the producers first.
	e.mustChange(false, "sink")
	for _, n := range []string{"prod", "filt", "sink"} {
		if e.isUp(n) {
			t.Fatalf("%s still up", n)
		}
	}
}
