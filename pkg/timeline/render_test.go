package timeline

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lineOf returns the chart line starting with name followed by a blank.
func lineOf(t *testing.T, out, name string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	t.Fatalf("no line for %q in:\n%s", name, out)
	return ""
}

func TestText(t *testing.T) {
	tl := standard(t).collect("stage 2 adds services")
	var buf bytes.Buffer
	if err := tl.WriteText(&buf, View{End: 8, Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// "early-getty" is the longest name: the bars start at column 28
	// (11 + 1 + 7 + 1 + 7 + 1); 52 columns are left, narrowed to 49 so
	// that the 4 ticks of 2 s are 12 columns apart: 6 columns a second.
	const prefix = 28
	for _, tc := range []struct{ name, head, bar string }{
		{"udev", "udev          0.906   1.850 ", "     ------" + strings.Repeat("#", 29)},
		{"early-getty", "early-getty   0.907       - ", "     " + strings.Repeat("=", 35)},
		{"flaky", "flaky         3.200       - ", strings.Repeat(" ", 10) + "x     x  " + strings.Repeat("-", 21)},
		{"mnt", "mnt               -   1.500 ", strings.Repeat(" ", 9) + "*"},
		{"batch", "batch             -       - ", strings.Repeat(" ", 24) + "x (down)"},
		{"idle", "idle              -       - ", "(not started)"},
		{"net", "net               -       - ", "(failed)"},
		{"(kernel)", "(kernel)      0.000   0.812 ", "~~~~~~"},
	} {
		l := lineOf(t, out, tc.name)
		if len(l) < prefix || l[:prefix] != tc.head || l[prefix:] != tc.bar {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, l, tc.head+tc.bar)
		}
	}
	// Ticks every 2 s, labels centred on them, "Run /init" at column
	// 5, mark 1 at column 7.
	lines := strings.Split(out, "\n")
	var labels, ruler string
	for i, l := range lines {
		if strings.HasPrefix(l, "service ") {
			labels, ruler = l, lines[i+1]
		}
	}
	if want := "0s         2s          4s          6s          8s"; len(labels) < prefix || labels[prefix:] != want {
		t.Errorf("labels %q, want %q after column %d", labels, want, prefix)
	}
	if want := "+----|-1----+-----------+-----------+-----------+"; len(ruler) < prefix || ruler[prefix:] != want {
		t.Errorf("ruler %q, want %q after column %d", ruler, want, prefix)
	}
	for _, want := range []string{
		"Run /init at 0.812s; 6 up: last spawned at 3.200s, not ready yet: flaky\n",
		"mark 1 at 1.200 s: boottest: stage 2 adds services",
		"flaky: 2 death(s) in supervise/death_tally: 1.600 s (exit 1), 2.700 s (signal",
		"net: at 2.400 s: svrc: transition failed: up script failed: exit 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

// TestTextWidth: every line fits the width asked for (the long log
// lines are folded), whatever the chart's span.
func TestTextWidth(t *testing.T) {
	b := standard(t)
	b.log("current", 5.0, "svscan: service "+filepath.Join(b.scan, "udev")+": "+strings.Repeat("word ", 40))
	tl := b.collect("stage 2 adds services")
	for _, w := range []int{60, 80, 132} {
		for _, end := range []Sec{0, 0.3, 7, 3600} {
			var buf bytes.Buffer
			if err := tl.WriteText(&buf, View{Width: w, End: end}); err != nil {
				t.Fatal(err)
			}
			for i, l := range strings.Split(buf.String(), "\n") {
				if i > 0 && len(l) > w { // the title names the host and kernel
					t.Errorf("width %d, end %v: line %d is %d long: %q", w, end, i, len(l), l)
				}
			}
		}
	}
}

// xmlElem is an element of a parsed SVG.
type xmlElem struct {
	name  string
	attr  map[string]string
	text  string
	kids  []*xmlElem
	class string
}

func parseSVG(t *testing.T, r io.Reader) *xmlElem {
	t.Helper()
	d := xml.NewDecoder(r)
	var stack []*xmlElem
	var root *xmlElem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			e := &xmlElem{name: tk.Name.Local, attr: map[string]string{}}
			if tk.Name.Space != "http://www.w3.org/2000/svg" {
				t.Errorf("<%s> in namespace %q", tk.Name.Local, tk.Name.Space)
			}
			for _, a := range tk.Attr {
				e.attr[a.Name.Local] = a.Value
			}
			e.class = e.attr["class"]
			if len(stack) == 0 {
				if root != nil {
					t.Fatalf("two root elements")
				}
				root = e
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	if root == nil || len(stack) != 0 {
		t.Fatalf("no root element, or unclosed elements")
	}
	return root
}

func (e *xmlElem) walk(f func(*xmlElem)) {
	f(e)
	for _, k := range e.kids {
		k.walk(f)
	}
}

func (e *xmlElem) num(t *testing.T, a string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attr[a], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, a, e.attr[a], err)
	}
	return v
}

func TestSVG(t *testing.T) {
	b := standard(t)
	b.log("current", 3.1, "svscan: service "+filepath.Join(b.scan, "udev")+`: <oops> & "quotes" ]]>`)
	b.log("current", 3.2, "svscan: service "+filepath.Join(b.scan, "udev")+": bell\a, bad \xff\xfe UTF-8, é, tab\tend")
	tl := b.collect("stage 2 adds services")
	var buf bytes.Buffer
	if err := tl.WriteSVG(&buf, View{End: 8}); err != nil {
		t.Fatal(err)
	}
	root := parseSVG(t, bytes.NewReader(buf.Bytes()))
	if root.name != "svg" {
		t.Fatalf("root <%s>", root.name)
	}
	w, h := root.num(t, "width"), root.num(t, "height")
	if vb := root.attr["viewBox"]; vb != fmt.Sprintf("0 0 %.0f %.0f", w, h) {
		t.Errorf("viewBox %q for %vx%v", vb, w, h)
	}
	ids := map[string]bool{}
	var groups []*xmlElem
	texts := map[string]bool{}
	root.walk(func(e *xmlElem) {
		if id := e.attr["id"]; id != "" {
			if ids[id] {
				t.Errorf("id %q twice", id)
			}
			ids[id] = true
		}
		if e.name == "g" && e.class == "service" {
			groups = append(groups, e)
		}
		if e.name == "text" {
			texts[e.text] = true
		}
		for _, a := range []string{"x", "x1", "x2", "cx"} {
			if _, ok := e.attr[a]; ok {
				if v := e.num(t, a); v < 0 || v > w {
					t.Errorf("<%s %s=%v> outside 0..%v", e.name, a, v, w)
				}
			}
		}
		for _, a := range []string{"y", "y1", "y2", "cy"} {
			if _, ok := e.attr[a]; ok {
				if v := e.num(t, a); v < 0 || v > h {
					t.Errorf("<%s %s=%v> outside 0..%v", e.name, a, v, h)
				}
			}
		}
		if e.name == "rect" {
			if e.num(t, "width") <= 0 || e.num(t, "height") <= 0 {
				t.Errorf("empty rect %v", e.attr)
			}
		}
	})
	if len(groups) != len(tl.Services) {
		t.Fatalf("%d service groups, want %d", len(groups), len(tl.Services))
	}
	byName := map[string]*xmlElem{}
	for i, g := range groups {
		var name string
		for _, k := range g.kids {
			if k.name == "text" {
				name = k.text
				break
			}
		}
		if name != tl.Services[i].Name {
			t.Errorf("group %d is labelled %q, want %q", i, name, tl.Services[i].Name)
		}
		byName[name] = g
	}
	kids := func(name, elem, class string) []*xmlElem {
		var out []*xmlElem
		for _, k := range byName[name].kids {
			if k.name == elem && k.class == class {
				out = append(out, k)
			}
		}
		return out
	}
	// The time axis: x of time s is x0 + s/8 * 760.
	var x0 float64
	root.walk(func(e *xmlElem) {
		if e.name == "rect" && e.class == "kernel" {
			x0 = e.num(t, "x")
			if got, want := e.num(t, "width"), 0.812345/8*svgChartW; math.Abs(got-want) > 0.1 {
				t.Errorf("kernel bar %v wide, want %v", got, want)
			}
		}
	})
	xOf := func(s float64) float64 { return x0 + s/8*svgChartW }
	st, rd := kids("udev", "rect", "starting"), kids("udev", "rect", "ready")
	if len(st) != 1 || len(rd) != 1 {
		t.Fatalf("udev: %d starting and %d ready bars", len(st), len(rd))
	}
	for _, c := range []struct {
		e    *xmlElem
		from float64
		to   float64
	}{{st[0], 0.906, 1.85}, {rd[0], 1.85, 6.5}} {
		x, wd := c.e.num(t, "x"), c.e.num(t, "width")
		if math.Abs(x-xOf(c.from)) > 0.1 || math.Abs(x+wd-xOf(c.to)) > 0.2 {
			t.Errorf("udev %s bar from %v to %v, want %v to %v", c.e.class, x, x+wd, xOf(c.from), xOf(c.to))
		}
	}
	if r := kids("early-getty", "rect", "running"); len(r) != 1 {
		t.Errorf("early-getty: %d running bars", len(r))
	}
	if d := kids("flaky", "path", "death"); len(d) != 2 {
		t.Errorf("flaky: %d deaths drawn, want 2", len(d))
	}
	if d := kids("mnt", "path", "done"); len(d) != 1 {
		t.Errorf("mnt: %d oneshot marks", len(d))
	}
	if d := kids("idle", "rect", "starting"); len(d) != 0 {
		t.Errorf("idle has a bar")
	}
	for _, want := range []string{
		"udev: at 3.100 s: svscan: service " + filepath.Join(b.scan, "udev") + `: <oops> & "quotes" ]]>`,
		"spawned 0.906 · ready 1.850 (+0.944)",
		"udev: at 3.200 s: svscan: service " + filepath.Join(b.scan, "udev") + ": bell\ufffd, bad \ufffd\ufffd UTF-8, é, tab\tend",
		"mark 1 at 1.200 s: boottest: stage 2 adds services",
		"0s", "2s", "8s", "init",
	} {
		if !texts[want] {
			t.Errorf("no text %q in the SVG", want)
		}
	}
}

// TestSVGEmpty: no service, no kernel log: still a valid picture.
func TestSVGEmpty(t *testing.T) {
	b := newFakeBoot(t, 2)
	tl, err := Collect(Options{Scandir: b.scan, Clock: &Clock{Realtime: at(2), Boottime: 2e9}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tl.WriteSVG(&buf, View{}); err != nil {
		t.Fatal(err)
	}
	if root := parseSVG(t, &buf); root.name != "svg" {
		t.Fatalf("root %q", root.name)
	}
	buf.Reset()
	if err := tl.WriteText(&buf, View{}); err != nil || !strings.Contains(buf.String(), "no service running") {
		t.Errorf("%v\n%s", err, buf.String())
	}
}

func TestEsc(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{`<a href="x">&'`, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"},
		{"é · ü", "é · ü"},
		{"nl\ncr\rtab\t", "nl&#xA;cr&#xD;tab&#x9;"},
		{"nul\x00 esc\x1b bad\xff", "nul\ufffd esc\ufffd bad\ufffd"},
		{"\uffff\ufffe", "\ufffd\ufffd"},
	} {
		got := esc(tc.in)
		if got != tc.want {
			t.Errorf("esc(%q) = %q, want %q", tc.in, got, tc.want)
		}
		var s struct {
			A string `xml:"a,attr"`
			V string `xml:",chardata"`
		}
		if err := xml.Unmarshal([]byte(`<x a="`+got+`">`+got+`</x>`), &s); err != nil {
			t.Errorf("esc(%q) = %q: not valid XML: %v", tc.in, got, err)
		}
	}
}
