package rc

import (
	"strings"
	"testing"

	"github.com/svinit/svinit/pkg/rc/rctest"
)

// defs writes definition directories: "svc/file" -> content. Files
// named run or finish are executable; a content of "/" makes a
// directory, "" an empty file.
func defs(t testing.TB, root string, files map[string]string) string {
	t.Helper()
	if err := rctest.Write(root, files); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCheckProblems(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings, each in one problem
	}{
		{"valid", map[string]string{
			"a/type": "oneshot\n", "a/up": "true\n",
			"b/type": "longrun\n", "b/run": "#!/bin/sh\n", "b/dependencies.d/a": "",
			"c/type": "bundle\n", "c/contents.d/b": "",
		}, nil},
		{"unknown type", map[string]string{"a/type": "longrn\n"},
			[]string{"a/type: unknown type \"longrn\" (did you mean longrun?): write oneshot, longrun or bundle"}},
		{"missing type", map[string]string{"a/up": "x"}, []string{"a/type: missing"}},
		{"missing dependency with near name", map[string]string{
			"postgres/type": "longrun\n", "postgres/run": "x",
			"app/type": "longrun\n", "app/run": "x", "app/dependencies.d/postgress": "",
		}, []string{"app/dependencies.d/postgress: no service named postgress (did you mean postgres?)"}},
		{"deprecated dependencies file", map[string]string{
			"a/type": "oneshot\n", "a/up": "x",
			"b/type": "oneshot\n", "b/up": "x", "b/dependencies": "# comment\n  a\nzz\n",
		}, []string{"b/dependencies/zz: no service named zz"}},
		{"cycle printed", map[string]string{
			"a/type": "oneshot\n", "a/up": "x", "a/dependencies.d/b": "",
			"b/type": "oneshot\n", "b/up": "x", "b/dependencies.d/c": "",
			"c/type": "oneshot\n", "c/up": "x", "c/dependencies.d/a": "",
		}, []string{"dependency cycle a -> b -> c -> a"}},
		{"cycle through a bundle", map[string]string{
			"a/type": "oneshot\n", "a/up": "x", "a/dependencies.d/g": "",
			"g/type": "bundle\n", "g/contents.d/a": "",
		}, []string{"a depends on itself"}},
		{"bundle cycle", map[string]string{
			"x/type": "bundle\n", "x/contents.d/y": "",
			"y/type": "bundle\n", "y/contents.d/x": "",
		}, []string{"bundle cycle x -> y -> x"}},
		{"bad timeouts", map[string]string{
			"a/type": "oneshot\n", "a/up": "x", "a/timeout-up": "5s\n", "a/timeout-down": "-1\n",
		}, []string{"a/timeout-up: \"5s\" is not a number of milliseconds", "a/timeout-down: \"-1\" is not"}},
		{"producer without consumer", map[string]string{
			"p/type": "longrun\n", "p/run": "x", "p/producer-for": "log\n",
			"log/type": "longrun\n", "log/run": "x",
		}, []string{"p/producer-for: log does not declare p in its consumer-for: add p to"}},
		{"consumer without producer", map[string]string{
			"p/type": "longrun\n", "p/run": "x",
			"log/type": "longrun\n", "log/run": "x", "log/consumer-for": "p\n",
		}, []string{"log/consumer-for: p does not declare log in its producer-for"}},
		{"producer for a oneshot", map[string]string{
			"p/type": "longrun\n", "p/run": "x", "p/producer-for": "o\n",
			"o/type": "oneshot\n", "o/up": "x",
		}, []string{"p/producer-for: o is a oneshot: only longruns form pipelines"}},
		{"pipeline of three", map[string]string{
			"p/type": "longrun\n", "p/run": "x", "p/producer-for": "f\n",
			"f/type": "longrun\n", "f/run": "x", "f/consumer-for": "p\n", "f/producer-for": "log\n",
			"log/type": "longrun\n", "log/run": "x", "log/consumer-for": "f\n",
		}, nil}, // svscan's pipes per consumer run it
		{"funnel", map[string]string{
			"a/type": "longrun\n", "a/run": "x", "a/producer-for": "log\n",
			"b/type": "longrun\n", "b/run": "x", "b/producer-for": "log\n",
			"log/type": "longrun\n", "log/run": "x", "log/consumer-for": "a\nb\n",
		}, nil},
		{"pipeline of two", map[string]string{
			"p/type": "longrun\n", "p/run": "x", "p/producer-for": "log\n",
			"log/type": "longrun\n", "log/run": "x", "log/consumer-for": "p\n",
		}, nil},
		{"run not executable", map[string]string{
			"d/type": "longrun\n", "d/run.txt": "x",
		}, []string{"d/run: missing"}},
		{"oneshot without up", map[string]string{"o/type": "oneshot\n"}, []string{"o/up: missing"}},
		{"reserved prefix", map[string]string{"svrc-x/type": "oneshot\n", "svrc-x/up": "x"}, []string{"reserved"}},
		{"bundle member unknown", map[string]string{
			"b/type": "bundle\n", "b/contents.d/nope": "",
		}, []string{"b/contents.d/nope: no service named nope"}},
		{"bad notification-fd", map[string]string{
			"d/type": "longrun\n", "d/run": "x", "d/notification-fd": "three\n",
		}, []string{"d/notification-fd: \"three\" is not a descriptor number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := defs(t, t.TempDir(), tt.files)
			db, probs := Load(root)
			if len(tt.want) == 0 {
				if len(probs) > 0 || db == nil {
					t.Fatalf("problems: %v", probs)
				}
				return
			}
			if len(probs) == 0 {
				t.Fatalf("no problem found, want %q", tt.want)
			}
			all := strings.ReplaceAll(probs.Error(), root+"/", "")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not say %q:\n%s", w, all)
				}
			}
		})
	}
}

// graph builds a DB from "name:type:dep,dep" specs (bundles list their
// contents after the second colon).
func graph(t *testing.T, specs ...string) *DB {
	t.Helper()
	var svcs []*Service
	for _, sp := range specs {
		f := strings.Split(sp, ":")
		s := &Service{Name: f[0], Dir: "/defs/" + f[0]}
		var list []string
		if len(f) > 2 && f[2] != "" {
			list = strings.Split(f[2], ",")
		}
		switch f[1] {
		case "o":
			s.Type, s.Deps = Oneshot, list
		case "l":
			s.Type, s.Deps = Longrun, list
		case "L":
			s.Type, s.Deps, s.Essential = Longrun, list, true
		case "b":
			s.Type, s.Contents = Bundle, list
		}
		svcs = append(svcs, s)
	}
	db, probs := Build(svcs)
	if probs != nil {
		t.Fatal(probs)
	}
	return db
}

func names(db *DB, layers [][]int) string {
	var out []string
	for _, l := range layers {
		var ns []string
		for _, id := range l {
			ns = append(ns, db.atoms[id].Name)
		}
		out = append(out, strings.Join(ns, ","))
	}
	return strings.Join(out, " | ")
}

func TestPlanLayers(t *testing.T) {
	g := []string{
		"mount:o:", "net:o:", "db:l:mount", "cache:l:", "app:l:db,cache,net",
		"web:l:app", "tools:b:db,cache", "all:b:tools,web", "boot:L:mount",
	}
	tests := []struct {
		name  string
		sel   []string
		up    bool
		force bool
		isUp  []string
		want  string
		kept  string
	}{
		{"up one with its dependencies", []string{"app"}, true, false, nil, "cache,mount,net | db | app", ""},
		{"bundle of bundles", []string{"all"}, true, false, nil, "cache,mount,net | db | app | web", ""},
		{"already up skipped", []string{"app"}, true, false, []string{"mount", "db"}, "cache,net | app", ""},
		{"down closure, dependents first", []string{"db"}, false, false,
			[]string{"mount", "db", "cache", "net", "app", "web"}, "web | app | db", ""},
		{"down of a bundle", []string{"tools"}, false, false,
			[]string{"db", "cache", "app", "mount"}, "app | cache,db", ""},
		{"essential kept without force", []string{"mount"}, false, false,
			[]string{"mount", "db", "boot"}, "db", "boot,mount"},
		{"essential stopped with force", []string{"mount"}, false, true,
			[]string{"mount", "db", "boot"}, "boot,db | mount", ""},
		{"nothing to do", []string{"web"}, false, false, nil, "", ""},
	}
	db := graph(t, g...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, err := db.Resolve(tt.sel)
			if err != nil {
				t.Fatal(err)
			}
			up := map[string]bool{}
			for _, n := range tt.isUp {
				up[n] = true
			}
			p := db.Plan(sel, tt.up, tt.force, func(id int) bool { return up[db.atoms[id].Name] })
			if got := names(db, p.Layers); got != tt.want {
				t.Errorf("layers %q, want %q", got, tt.want)
			}
			var kept []string
			for _, id := range p.Kept {
				kept = append(kept, db.atoms[id].Name)
			}
			if got := strings.Join(kept, ","); got != tt.kept {
				t.Errorf("kept %q, want %q", got, tt.kept)
			}
		})
	}
}

func TestPrunePlans(t *testing.T) {
	db := graph(t, "a:o:", "b:l:a", "c:l:b", "x:o:", "y:l:x")
	isUp := func(ups ...string) func(int) bool {
		return func(id int) bool { return indexOf(ups, db.atoms[id].Name) >= 0 }
	}
	tests := []struct {
		sel       string
		up        bool
		ups       []string
		down, rup string
	}{
		{"b", true, []string{"x", "y", "c"}, "c,y | x", "a | b"},
		{"b", false, []string{"a", "b", "c"}, "c | b", "x | y"},
		{"y", true, nil, "", "x | y"},
	}
	for _, tt := range tests {
		sel, _ := db.Resolve([]string{tt.sel})
		ps := db.PrunePlans(sel, tt.up, false, isUp(tt.ups...))
		if got := names(db, ps[0].Layers); got != tt.down {
			t.Errorf("-p %s up=%v: down %q, want %q", tt.sel, tt.up, got, tt.down)
		}
		if got := names(db, ps[1].Layers); got != tt.rup {
			t.Errorf("-p %s up=%v: up %q, want %q", tt.sel, tt.up, got, tt.rup)
		}
	}
}

func TestResolveUnknown(t *testing.T) {
	db := graph(t, "database:l:", "web:l:database")
	_, err := db.Resolve([]string{"web", "databse"})
	if err == nil || !strings.Contains(err.Error(), "no service or bundle named databse (did you mean database?)") {
		t.Fatalf("err = %v", err)
	}
}

func TestClosure(t *testing.T) {
	db := graph(t, "a:o:", "b:o:a", "c:o:b", "d:o:a", "e:o:")
	tests := []struct {
		sel  string
		up   bool
		want string
	}{
		{"c", true, "a | b | c"},
		{"a", false, "c,d | b | a"},
		{"b", false, "c | b"},
		{"e", true, "e"},
	}
	for _, tt := range tests {
		sel, _ := db.Resolve([]string{tt.sel})
		set := db.Closure(sel, tt.up)
		if got := names(db, db.Layers(set, tt.up)); got != tt.want {
			t.Errorf("%s up=%v: %q, want %q", tt.sel, tt.up, got, tt.want)
		}
	}
}

func TestPipelineBundleAndOrder(t *testing.T) {
	root := defs(t, t.TempDir(), map[string]string{
		"prod/type": "longrun\n", "prod/run": "x", "prod/producer-for": "filter\n",
		"filter/type": "longrun\n", "filter/run": "x", "filter/consumer-for": "prod\n", "filter/producer-for": "log\n",
		"log/type": "longrun\n", "log/run": "x", "log/consumer-for": "filter\n", "log/pipeline-name": "logged-prod\n",
	})
	// A pipeline of three runs on svscan's pipes per consumer: each
	// member installed under its own name, producers first.
	svcs, probs := ReadDir(root)
	if probs != nil {
		t.Fatal(probs)
	}
	db, probs := Build(svcs)
	if probs != nil {
		t.Fatal(probs)
	}
	for _, n := range []string{"prod", "filter", "log"} {
		if got := strings.Join(db.Pipeline[n], " "); got != "prod filter log" {
			t.Errorf("Pipeline[%s] = %q, want producers before their consumer", n, got)
		}
	}
	if len(db.LoggerOf) != 0 {
		t.Errorf("LoggerOf = %v: a pipeline of three has no log/", db.LoggerOf)
	}
	sel, err := db.Resolve([]string{"logged-prod"})
	if err != nil {
		t.Fatal(err)
	}
	p := db.Plan(sel, true, false, func(int) bool { return false })
	if got := names(db, p.Layers); got != "log | filter | prod" {
		t.Fatalf("pipeline order %q: consumers start first", got)
	}
}

// BenchmarkLoadPlan1000 reads 1000 definitions (oneshots and longruns
// in chains, a bundle of all) and plans bringing everything up: the
// cost svrc pays on every invocation since it has no compile step.
func BenchmarkLoadPlan1000(b *testing.B) {
	root := defs(b, b.TempDir(), rctest.Chains(1000, "#!/bin/sh\nexec sleep 1000\n"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		db, probs := Load(root)
		if probs != nil {
			b.Fatal(probs)
		}
		sel, _ := db.Resolve([]string{"all"})
		p := db.Plan(sel, true, false, func(int) bool { return false })
		if len(p.Set) != 1000 || len(p.Layers) != 100 {
			b.Fatalf("%d transitions in %d layers", len(p.Set), len(p.Layers))
		}
	}
}
