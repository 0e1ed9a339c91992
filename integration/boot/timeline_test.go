package boot

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/image"
)

// TestBootTimeline boots the default image, runs svinit-timeline in the
// guest once the early services are up, keeps the SVG next to the
// console logs (out/boot-logs/TestBootTimeline-default-timeline.svg)
// and checks the picture and the JSON: every early service of
// images/default.yaml is in both, spawned after the kernel ran /init,
// ready after its spawn when it notifies readiness, and its spawn on
// the kernel's clock agrees with the kernel's own start time of its
// process (which would not be so if the clocks were put together
// wrongly).
func TestBootTimeline(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, defaultImage)
	early := earlyServiceNames(t, e, defaultImage.def)
	g := bootShell(t, e, "default", img, bootOpts{qemuArg: qemuDevices})
	settle(t, g, early)
	g.step(t, "SVG", func(t *testing.T) {
		svg := saveTimeline(t, g)
		names := svgTexts(t, svg)
		for _, s := range early {
			if !names[s] {
				t.Errorf("early service %s is not in the SVG", s)
			}
		}
	})
	g.step(t, "JSON", func(t *testing.T) {
		checkTimelineJSON(t, g, early)
	})
	g.step(t, "Text", func(t *testing.T) {
		out := g.run("svinit-timeline")
		t.Logf("svinit-timeline in the guest:\n%s", out)
		for _, l := range strings.Split(out, "\n") {
			if len(l) > 80 && !strings.HasPrefix(l, "boot timeline: ") {
				t.Errorf("line wider than the console's 80 columns: %q", l)
			}
		}
		for _, s := range early {
			if !strings.Contains(out, "\n"+s+" ") {
				t.Errorf("early service %s has no row in the text chart", s)
			}
		}
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}

// TestBootTimelineRc boots the rc image (TestRcGraph's service graph:
// oneshot mnt, longrun db that is ready a second after its start,
// longrun web needing db) and reads the dependency order back from
// svinit-timeline: mnt came up before db was spawned, and web was
// spawned only once db was ready.
func TestBootTimelineRc(t *testing.T) {
	e := needEnv(t)
	img := buildImage(t, e, rcImage)
	g := bootShell(t, e, "rc", img, bootOpts{})
	g.run("svrc -b -u change default") // waits for stage 2's svrc
	g.step(t, "Order", func(t *testing.T) {
		saveTimeline(t, g)
		out := g.run("svinit-timeline -j")
		var tl struct {
			Services []struct {
				Name, Kind, State    string
				Spawned, Ready, Done *float64
			}
		}
		if err := json.Unmarshal([]byte(out), &tl); err != nil {
			t.Fatalf("svinit-timeline -j: %v\n%s", err, out)
		}
		type row struct {
			Name, Kind, State    string
			Spawned, Ready, Done *float64
		}
		rows := map[string]row{}
		for _, s := range tl.Services {
			rows[s.Name] = row(s)
		}
		mnt, db, web := rows["mnt"], rows["db"], rows["web"]
		if mnt.Kind != "oneshot" || mnt.State != "done" || mnt.Done == nil ||
			db.Spawned == nil || db.Ready == nil || web.Spawned == nil {
			t.Fatalf("mnt, db or web missing or without their times:\n%s", out)
		}
		t.Logf("mnt up at %.3f, db spawned at %.3f and ready at %.3f, web spawned at %.3f", *mnt.Done, *db.Spawned, *db.Ready, *web.Spawned)
		if d := *db.Ready - *db.Spawned; d < 0.9 {
			t.Errorf("db ready %.3f s after its spawn; its run script sleeps 1 s first", d)
		}
		if !(*mnt.Done <= *db.Spawned && *db.Ready <= *web.Spawned) {
			t.Errorf("the order does not hold on the timeline: mnt up %.3f, db spawned %.3f, ready %.3f, web spawned %.3f", *mnt.Done, *db.Spawned, *db.Ready, *web.Spawned)
		}
		t.Logf("svinit-timeline:\n%s", g.run("svinit-timeline"))
	})
	g.step(t, "Poweroff", func(t *testing.T) {
		shutdown(t, g, "poweroff", "")
	})
}

// earlyServiceNames reads the early services of an image definition.
func earlyServiceNames(t *testing.T, e *env, def string) []string {
	data, err := os.ReadFile(filepath.Join(e.root, def))
	if err != nil {
		t.Fatal(err)
	}
	d, err := image.ParseDefinition(data, def)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range d.EarlyServices {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		t.Fatalf("%s has no early services", def)
	}
	return names
}

// bootLogDir is where the boot tests keep what a boot leaves (the
// console logs, the timelines): BOOTTEST_LOGS, or out/boot-logs in the
// repository, as newConsoleLog has it.
func bootLogDir(e *env) string {
	if dir := os.Getenv("BOOTTEST_LOGS"); dir != "" {
		return dir
	}
	return filepath.Join(e.root, "out", "boot-logs")
}

// saveTimeline runs svinit-timeline -s in the guest, copies the SVG
// through the console into the boot log directory, named after the
// test and the boot like the console log (TEST-BOOT-timeline.svg), and
// returns it. Any boot test can call it once its services are up.
func saveTimeline(t *testing.T, g *guest) []byte {
	t.Helper()
	g.run("svinit-timeline -s -o /run/boot-timeline.svg")
	svg := []byte(g.run("cat /run/boot-timeline.svg"))
	dir := bootLogDir(g.env)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("boot log directory: %v", err)
	}
	top, _, _ := strings.Cut(g.t.Name(), "/") // the test, not the step
	name := strings.NewReplacer(" ", "_").Replace(top) + "-" + g.name + "-timeline.svg"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, svg, 0o644); err != nil {
		t.Fatalf("keeping the timeline: %v", err)
	}
	t.Logf("boot timeline (%d bytes): %s", len(svg), p)
	return svg
}

// svgTexts checks that svg is well-formed SVG and returns the set of
// its text elements' contents.
func svgTexts(t *testing.T, svg []byte) map[string]bool {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(svg))
	texts := map[string]bool{}
	depth, inText := 0, false
	var root string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v\n%s", err, tail(string(svg), 2000))
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				root = tk.Name.Space + " " + tk.Name.Local
			}
			depth++
			inText = tk.Name.Local == "text"
		case xml.EndElement:
			depth--
			inText = false
		case xml.CharData:
			if inText {
				texts[string(tk)] = true
			}
		}
	}
	if root != "http://www.w3.org/2000/svg svg" || depth != 0 {
		t.Fatalf("root element %q, %d left open", root, depth)
	}
	return texts
}

// checkTimelineJSON reads svinit-timeline -j in the guest and checks
// each early service's times.
func checkTimelineJSON(t *testing.T, g *guest, early []string) {
	out := g.run("svinit-timeline -j")
	var tl struct {
		Taken    float64  `json:"taken"`
		RunInit  *float64 `json:"run_init"`
		Services []struct {
			Name        string   `json:"name"`
			State       string   `json:"state"`
			Notifies    bool     `json:"notifies"`
			Spawned     *float64 `json:"spawned"`
			Ready       *float64 `json:"ready"`
			ProcStarted *float64 `json:"proc_started"`
		} `json:"services"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &tl); err != nil {
		t.Fatalf("svinit-timeline -j: %v\n%s", err, out)
	}
	if tl.RunInit == nil || *tl.RunInit <= 0 || *tl.RunInit >= tl.Taken {
		t.Fatalf("Run /init not read from /dev/kmsg, or out of place: %s", out)
	}
	for _, w := range tl.Warnings {
		t.Errorf("warning: %s", w)
	}
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.3f", *p)
	}
	for _, name := range early {
		found := false
		for _, s := range tl.Services {
			if s.Name != name {
				continue
			}
			found = true
			t.Logf("%s: spawned %s, ready %s, its process started at %s (kernel clock); Run /init at %.3f", name, f(s.Spawned), f(s.Ready), f(s.ProcStarted), *tl.RunInit)
			if s.State != "up" || s.Spawned == nil {
				t.Errorf("%s: state %q, spawned %s", name, s.State, f(s.Spawned))
				continue
			}
			if *s.Spawned < *tl.RunInit || *s.Spawned > tl.Taken {
				t.Errorf("%s: spawned at %.3f, not between Run /init (%.3f) and the reading (%.3f)", name, *s.Spawned, *tl.RunInit, tl.Taken)
			}
			if s.Notifies && (s.Ready == nil || *s.Ready < *s.Spawned || *s.Ready > tl.Taken) {
				t.Errorf("%s: notifies readiness, ready at %s after its spawn at %.3f", name, f(s.Ready), *s.Spawned)
			}
			// USER_HZ ticks (10 ms) and the spawn itself under TCG.
			if s.ProcStarted == nil || math.Abs(*s.ProcStarted-*s.Spawned) > 0.25 {
				t.Errorf("%s: spawned at %.3f by its status file, its process started at %s by the kernel", name, *s.Spawned, f(s.ProcStarted))
			}
		}
		if !found {
			t.Errorf("early service %s is not in the JSON:\n%s", name, out)
		}
	}
}
