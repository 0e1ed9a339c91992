package timeline

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// WriteJSON writes t as one indented JSON object (schema in
// docs/svinit-timeline.md).
func (t *Timeline) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// SVG layout, in pixels.
const (
	svgMargin   = 20
	svgRowH     = 24
	svgBarH     = 14
	svgChartW   = 760
	svgDetailW  = 330
	svgFontSize = 12
	svgCharW    = 7.0 // average advance of the 12 px sans-serif
	svgMaxNotes = 40  // note lines under the chart (the JSON has all)
)

// SVG colours.
const (
	colStarting = "#f0a04b"
	colReady    = "#5cb85c"
	colRunning  = "#5b9bd5"
	colKernel   = "#c3c8d0"
	colDeath    = "#d9534f"
	colDone     = "#8e6cc0"
	colMark     = "#8e6cc0"
	colInit     = "#444444"
	colGrid     = "#e1e4e8"
	colStripe   = "#f5f6f8"
	colText     = "#222222"
	colDim      = "#6a737d"
)

// esc escapes s for XML text and attribute values. Bytes that are not
// UTF-8 and characters XML does not allow (control characters a log
// line may hold) become U+FFFD. (Not encoding/xml: it would add its
// weight to the busybox for this one function.)
func esc(s string) string {
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, n := utf8.DecodeRuneInString(s[i:])
		w = n
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&#34;")
		case r == '\'':
			b.WriteString("&#39;")
		case r == '\n':
			b.WriteString("&#xA;")
		case r == '\r':
			b.WriteString("&#xD;")
		case r == '\t':
			b.WriteString("&#x9;")
		case r == utf8.RuneError && n == 1, r < 0x20, r >= 0xD800 && r <= 0xDFFF, r == 0xFFFE, r == 0xFFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i : i+n])
		}
	}
	return b.String()
}

// svgWriter accumulates the picture.
type svgWriter struct {
	b *bufio.Writer
}

func (s *svgWriter) f(format string, a ...any) { fmt.Fprintf(s.b, format, a...) }

func (s *svgWriter) text(x, y float64, anchor, fill, weight, body string, size int) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s" font-size="%d"`, x, y, anchor, fill, size)
	if weight != "" {
		s.f(` font-weight="%s"`, weight)
	}
	s.f(">%s</text>\n", esc(body))
}

// WriteSVG draws t in the manner of systemd-analyze plot: a row per
// service, a bar from its spawn to its readiness and on while it runs,
// deaths and oneshots as marks, the kernel's hand-off to init and the
// marks as vertical lines, a time axis with ticks, and the notes (deaths,
// log lines, warnings) under the legend.
func (t *Timeline) WriteSVG(w io.Writer, v View) error {
	end, step := v.axis(t, svgChartW, 70)
	s := &svgWriter{b: bufio.NewWriter(w)}
	longest := len("(kernel)")
	for _, r := range t.Services {
		longest = max(longest, len(r.Name))
	}
	nameW := math.Max(120, float64(longest)*svgCharW+24)
	x0 := svgMargin + nameW // time 0
	x1 := x0 + svgChartW    // the chart's end
	detailX := x1 + 14      // detail column
	width := detailX + svgDetailW + svgMargin
	xOf := func(v Sec) float64 { return x0 + math.Min(math.Max(float64(v), 0), end)/end*svgChartW }
	inRange := func(v Sec) bool { return v >= 0 && float64(v) <= end }

	rows := len(t.Services)
	if t.RunInit != nil {
		rows++
	}
	top := 110.0 // first row
	chartBottom := top + float64(rows)*svgRowH
	notes := t.notes()
	shown := min(len(notes), svgMaxNotes)
	legendY := chartBottom + 62
	notesY := legendY + 34
	height := notesY + float64(shown)*16 + svgMargin
	if shown < len(notes) {
		height += 16
	}

	s.f(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Verdana, Arial, sans-serif" font-size="%d">`+"\n",
		width, height, width, height, svgFontSize)
	s.f("<title>%s</title>\n", esc(t.title()))
	s.f("<desc>%s</desc>\n", esc("svinit-timeline ("+Schema+"): seconds since the kernel started; "+t.headline()))
	s.f(`<rect x="0" y="0" width="%.0f" height="%.0f" fill="#ffffff"/>`+"\n", width, height)

	// Heading.
	s.text(svgMargin, 30, "start", colText, "bold", t.title(), 16)
	s.text(svgMargin, 50, "start", colText, "", t.headline(), svgFontSize)
	s.text(svgMargin, 67, "start", colDim, "", "kernel started at "+t.KernelStarted.Format("2006-01-02 15:04:05.000 MST")+" (realtime clock); scan directory "+t.Scandir, svgFontSize)

	// Stripes, then the grid and the axis on both sides of the rows.
	for i := 0; i < rows; i++ {
		if i%2 == 0 {
			s.f(`<rect class="stripe" x="%d" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", svgMargin, top+float64(i)*svgRowH, width-2*svgMargin, svgRowH, colStripe)
		}
	}
	s.f(`<g class="axis" stroke="%s" stroke-width="1">`+"\n", colGrid)
	for i := 0; float64(i)*step <= end*(1+1e-9); i++ {
		x := xOf(Sec(float64(i) * step))
		s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", x, top-6, x, chartBottom+6)
	}
	s.f("</g>\n")
	s.f(`<g class="ticks">` + "\n")
	for i := 0; float64(i)*step <= end*(1+1e-9); i++ {
		tv := float64(i) * step
		x := xOf(Sec(tv))
		l := tickLabel(tv, step)
		s.text(x, top-10, "middle", colDim, "", l, 11)
		s.text(x, chartBottom+20, "middle", colDim, "", l, 11)
	}
	s.f("</g>\n")
	s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, chartBottom+6, x1, chartBottom+6, colDim)

	// Rows.
	y := top
	rowText := func(name, detail string) {
		s.text(svgMargin+8, y+svgRowH/2+4, "start", colText, "", name, svgFontSize)
		s.text(detailX, y+svgRowH/2+4, "start", colDim, "", detail, 11)
	}
	bar := func(from, to Sec, fill, class, tip string) {
		if from > Sec(end) || to < 0 {
			return
		}
		a, b := xOf(from), xOf(to)
		s.f(`<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%d" rx="2" fill="%s"><title>%s</title></rect>`+"\n",
			class, a, y+(svgRowH-svgBarH)/2, math.Max(b-a, 1.5), svgBarH, fill, esc(tip))
	}
	if t.RunInit != nil {
		bar(0, *t.RunInit, colKernel, "kernel", fmt.Sprintf("kernel: started at 0, ran %s at %s s", orDefault(t.Init, "init"), fmtSec(*t.RunInit)))
		rowText("(kernel)", fmt.Sprintf("ran %s at %s s", orDefault(t.Init, "init"), fmtSec(*t.RunInit)))
		y += svgRowH
	}
	for i := range t.Services {
		r := &t.Services[i]
		s.f(`<g class="service" id="%s">`+"\n", esc(svgID(i, r.Name)))
		if r.State == StateUp && r.Spawned != nil {
			spawned := fmt.Sprintf("%s: spawned at %s s", r.Name, fmtSec(*r.Spawned))
			switch {
			case r.Ready != nil:
				bar(*r.Spawned, *r.Ready, colStarting, "starting", fmt.Sprintf("%s, ready at %s s (%.3f s later)", spawned, fmtSec(*r.Ready), float64(*r.Ready-*r.Spawned)))
				bar(*r.Ready, t.Taken, colReady, "ready", fmt.Sprintf("%s: ready since %s s", r.Name, fmtSec(*r.Ready)))
			case r.Notifies:
				bar(*r.Spawned, t.Taken, colStarting, "starting", spawned+", not ready yet")
			default:
				bar(*r.Spawned, t.Taken, colRunning, "running", spawned+" (no notification-fd: readiness not reported)")
			}
		}
		cy := y + svgRowH/2
		death := func(at Sec, tip string) {
			if !inRange(at) {
				return
			}
			x := xOf(at)
			s.f(`<path class="death" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f" stroke="%s" stroke-width="2.2" stroke-linecap="round"><title>%s</title></path>`+"\n",
				x-4, cy-4, x+4, cy+4, x-4, cy+4, x+4, cy-4, colDeath, esc(tip))
		}
		for _, d := range r.Deaths {
			death(d.At, fmt.Sprintf("%s: ./run died at %s s (%s)", r.Name, fmtSec(d.At), d.What()))
		}
		if r.DownSince != nil && len(r.Deaths) == 0 {
			death(*r.DownSince, fmt.Sprintf("%s: down since %s s", r.Name, fmtSec(*r.DownSince)))
		}
		if r.Done != nil && inRange(*r.Done) {
			x := xOf(*r.Done)
			s.f(`<path class="done" d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"><title>%s</title></path>`+"\n",
				x, cy-6, x+6, cy, x, cy+6, x-6, cy, colDone, esc(fmt.Sprintf("%s: oneshot up at %s s", r.Name, fmtSec(*r.Done))))
		}
		for _, e := range r.Log {
			if inRange(e.At) {
				x := xOf(e.At)
				s.f(`<circle class="log" cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s</title></circle>`+"\n", x, cy+svgBarH/2+3, colInit, esc(fmt.Sprintf("%s s: %s", fmtSec(e.At), e.Text)))
			}
		}
		rowText(r.Name, r.detail())
		s.f("</g>\n")
		y += svgRowH
	}

	// Vertical lines: the hand-off to init, the marks, the reading.
	vline := func(at Sec, colour, dash, label, tip string) {
		if !inRange(at) {
			return
		}
		x := xOf(at)
		s.f(`<line class="vline" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.2" stroke-dasharray="%s"><title>%s</title></line>`+"\n",
			x, top-4, x, chartBottom+4, colour, dash, esc(tip))
		s.text(x+3, top-26, "start", colour, "bold", label, 10)
	}
	if t.RunInit != nil {
		vline(*t.RunInit, colInit, "4 3", "init", fmt.Sprintf("the kernel ran %s at %s s", orDefault(t.Init, "init"), fmtSec(*t.RunInit)))
	}
	for i, m := range t.Marks {
		vline(m.At, colMark, "2 3", fmt.Sprintf("%d", i+1), fmt.Sprintf("mark %d at %s s: %s", i+1, fmtSec(m.At), m.Text))
	}
	if inRange(t.Taken) && float64(t.Taken) < end*0.999 {
		vline(t.Taken, colDim, "1 3", "read", fmt.Sprintf("read at %s s", fmtSec(t.Taken)))
	}
	s.text(x1, chartBottom+36, "end", colDim, "", "seconds since the kernel started", 11)

	// Legend.
	lx := float64(svgMargin)
	swatch := func(fill, label string) {
		s.f(`<rect class="legend" x="%.1f" y="%.1f" width="18" height="10" rx="2" fill="%s"/>`+"\n", lx, legendY-9, fill)
		s.text(lx+24, legendY, "start", colText, "", label, 11)
		lx += 24 + float64(len(label))*6.4 + 22
	}
	swatch(colKernel, "kernel, before init")
	swatch(colStarting, "spawned, not ready yet")
	swatch(colReady, "ready")
	swatch(colRunning, "running (no notification-fd)")
	s.f(`<path d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f" stroke="%s" stroke-width="2.2" stroke-linecap="round"/>`+"\n",
		lx+5, legendY-8, lx+13, legendY, lx+5, legendY, lx+13, legendY-8, colDeath)
	s.text(lx+24, legendY, "start", colText, "", "./run died", 11)
	lx += 24 + 10*6.4 + 22
	s.f(`<path d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ" fill="%s"/>`+"\n", lx+9, legendY-10, lx+15, legendY-4, lx+9, legendY+2, lx+3, legendY-4, colDone)
	s.text(lx+24, legendY, "start", colText, "", "oneshot up", 11)

	// Notes.
	ny := notesY
	for _, n := range notes[:shown] {
		s.text(svgMargin, ny, "start", n.colour, "", n.text, 11)
		ny += 16
	}
	if shown < len(notes) {
		s.text(svgMargin, ny, "start", colDim, "", fmt.Sprintf("... and %d more (svinit-timeline -j has them all)", len(notes)-shown), 11)
	}
	s.f("</svg>\n")
	return s.b.Flush()
}

// detail is a row's text in the SVG's right-hand column.
func (r *Row) detail() string {
	var p []string
	switch {
	case r.Kind == KindOneshot && r.Done != nil:
		p = append(p, "oneshot up at "+fmtSec(*r.Done))
	case r.State == StateUp && r.Spawned != nil:
		p = append(p, "spawned "+fmtSec(*r.Spawned))
		switch {
		case r.Ready != nil:
			p = append(p, fmt.Sprintf("ready %s (+%.3f)", fmtSec(*r.Ready), float64(*r.Ready-*r.Spawned)))
		case r.Notifies:
			p = append(p, "not ready yet")
		default:
			p = append(p, "no readiness notification")
		}
	case r.DownSince != nil:
		p = append(p, r.State+" since "+fmtSec(*r.DownSince))
	default:
		p = append(p, r.State)
	}
	if n := len(r.Deaths); n > 0 {
		p = append(p, fmt.Sprintf("%d death(s)", n))
	}
	return strings.Join(p, " · ")
}

// A note is a line under the SVG's legend.
type note struct{ text, colour string }

// notes lists the marks, deaths, log lines and warnings.
func (t *Timeline) notes() []note {
	var out []note
	for i, m := range t.Marks {
		out = append(out, note{fmt.Sprintf("mark %d at %s s: %s", i+1, fmtSec(m.At), m.Text), colMark})
	}
	for i := range t.Services {
		r := &t.Services[i]
		for _, d := range r.Deaths {
			out = append(out, note{fmt.Sprintf("%s: ./run died at %s s (%s)", r.Name, fmtSec(d.At), d.What()), colDeath})
		}
		for _, e := range r.Log {
			out = append(out, note{fmt.Sprintf("%s: at %s s: %s", r.Name, fmtSec(e.At), e.Text), colText})
		}
	}
	for _, w := range t.Warnings {
		out = append(out, note{"warning: " + w, colDeath})
	}
	return out
}

// svgID makes the i-th row's service name an XML id (row 3,
// "chatty/log" gives "svc3-chatty_log").
func svgID(i int, name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "svc%d-", i)
	for _, c := range name {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
