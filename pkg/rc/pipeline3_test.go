package rc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/internal/testutil"
	"github.com/svinit/svinit/pkg/servicedir"
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

// The command itself: svrc -u change brings a funnel into a chain up
// (p1, p2 -> mid -> sink), every line of both producers arrives, and
// svrc -d change brings it down.
func TestSvrcChangePipelineOfThree(t *testing.T) {
	bin := testutil.Command(t, "svrc")
	tmp := t.TempDir()
	prod := func(tag string) string {
		return sh + fmt.Sprintf("for i in $(seq 1 100); do echo %s$i; done\nexec sleep 1000\n", tag)
	}
	root := defs(t, t.TempDir(), map[string]string{
		"p1/type": "longrun\n", "p1/producer-for": "mid\n", "p1/run": prod("x"),
		"p2/type": "longrun\n", "p2/producer-for": "mid\n", "p2/run": prod("y"),
		"mid/type": "longrun\n", "mid/consumer-for": "p1\np2\n", "mid/producer-for": "sink\n",
		"mid/run":   sh + "exec cat\n",
		"sink/type": "longrun\n", "sink/consumer-for": "mid\n", "sink/pipeline-name": "all\n",
		"sink/run": sh + "exec cat >> " + tmp + "/out\n",
	})
	scan, out := scanner(t)
	svrc := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"-c", root, "-l", scan}, args...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("svrc %s: %v\n%s\nsvscan output:\n%s", strings.Join(args, " "), err, b, out())
		}
	}
	svrc("-u", "change", "all")
	for _, n := range []string{"p1", "p2", "mid", "sink"} {
		if st, err := servicedir.ReadStatus(filepath.Join(scan, n)); err != nil || !st.Up() {
			t.Fatalf("%s not up after svrc -u change: %+v %v", n, st, err)
		}
	}
	e := &env{t: t, out: out, tmp: tmp}
	e.waitFor("both producers' lines", func() bool { return len(e.lines("out")) >= 200 })
	got := map[string]int{}
	for _, l := range e.lines("out") {
		got[l]++
	}
	for _, tag := range []string{"x", "y"} {
		for i := 1; i <= 100; i++ {
			if got[fmt.Sprint(tag, i)] != 1 {
				t.Fatalf("line %s%d arrived %d times", tag, i, got[fmt.Sprint(tag, i)])
			}
		}
	}
	svrc("-d", "change", "sink")
	for _, n := range []string{"p1", "p2", "mid", "sink"} {
		if st, err := servicedir.ReadStatus(filepath.Join(scan, n)); err != nil || st.Up() {
			t.Fatalf("%s not down after svrc -d change: %+v %v", n, st, err)
		}
	}
}
