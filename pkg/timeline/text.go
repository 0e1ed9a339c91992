package timeline

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
)

// View chooses what a chart shows.
type View struct {
	// End is the last time the chart shows; 0 means t.End(). Bars of
	// services still running stop there.
	End Sec
	// Width is the text chart's width in columns (default 80, at
	// least MinWidth).
	Width int
}

// MinWidth is the narrowest text chart.
const MinWidth = 60

// axis returns the chart's last time and its tick step, for a chart
// of units columns (or pixels) whose ticks need minUnits each: the
// last event plus 2%, rounded up to a tick, unless View.End is set.
func (v View) axis(t *Timeline, units, minUnits float64) (end, step float64) {
	if v.End > 0 {
		end = float64(v.End)
		return end, ticks(end, end*minUnits/units)
	}
	raw := float64(t.End()) * 1.02
	step = ticks(raw, raw*minUnits/units)
	return math.Ceil(raw/step-1e-9) * step, step
}

// Summary holds the figures a reader wants first, over the services
// that are up.
type Summary struct {
	Running     int
	HaveRunning bool
	LastSpawned Sec      // the last spawn
	LastReady   Sec      // the last readiness (spawn, without a notification-fd)
	NotReady    []string // services with a notification-fd, not ready yet
}

// Summarize computes the Summary of t.
func (t *Timeline) Summarize() Summary {
	var s Summary
	for i := range t.Services {
		r := &t.Services[i]
		if r.State != StateUp || r.Spawned == nil {
			continue
		}
		s.Running++
		s.HaveRunning = true
		s.LastSpawned = max(s.LastSpawned, *r.Spawned)
		switch {
		case r.Ready != nil:
			s.LastReady = max(s.LastReady, *r.Ready)
		case r.Notifies:
			s.NotReady = append(s.NotReady, r.Name)
		default:
			s.LastReady = max(s.LastReady, *r.Spawned)
		}
	}
	return s
}

// headline is the chart's first line after the title.
func (t *Timeline) headline() string {
	var b strings.Builder
	if t.RunInit != nil {
		fmt.Fprintf(&b, "Run %s at %ss; ", orDefault(t.Init, "init"), fmtSec(*t.RunInit))
	}
	s := t.Summarize()
	if !s.HaveRunning {
		b.WriteString("no service running")
		return b.String()
	}
	fmt.Fprintf(&b, "%d up: last spawned at %ss, ", s.Running, fmtSec(s.LastSpawned))
	if len(s.NotReady) > 0 {
		fmt.Fprintf(&b, "not ready yet: %s", strings.Join(s.NotReady, ", "))
	} else {
		fmt.Fprintf(&b, "all ready at %ss", fmtSec(s.LastReady))
	}
	return b.String()
}

func (t *Timeline) title() string {
	var parts []string
	if t.Host != "" {
		parts = append(parts, t.Host)
	}
	if t.Kernel != "" {
		parts = append(parts, "Linux "+t.Kernel)
	}
	parts = append(parts, fmt.Sprintf("read %s s after the kernel started", fmtSec(t.Taken)))
	return "boot timeline: " + strings.Join(parts, ", ")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Chart characters.
const (
	chKernel   = '~' // the kernel, before it ran init
	chStarting = '-' // spawned, not ready yet
	chReady    = '#' // ready
	chRunning  = '=' // running, readiness not notified
	chDeath    = 'x' // ./run died
	chDone     = '*' // a oneshot's up script succeeded
	chInit     = '|' // the kernel ran init (ruler)
)

// ticks returns the tick step for a chart of span seconds whose ticks
// are at least minStep apart: 1, 2 or 5 times a power of ten.
func ticks(span, minStep float64) float64 {
	if minStep <= 0 || span <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(minStep)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= minStep*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// tickLabel formats a tick's time for step ("0s", "0.5s", "12s").
func tickLabel(v, step float64) string {
	d := 0
	if step < 1 {
		d = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	l := fmt.Sprintf("%.*f", d, v)
	if strings.Contains(l, ".") {
		l = strings.TrimRight(strings.TrimRight(l, "0"), ".")
	}
	return l + "s"
}

// colTime formats a time for the spawned and ready columns (7 wide).
func colTime(p *Sec) string {
	if p == nil {
		return "-"
	}
	v := float64(*p)
	switch {
	case math.Abs(v) < 1000:
		return fmt.Sprintf("%.3f", v)
	case math.Abs(v) < 100000:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// WriteText writes t as a text chart for the console: a row per
// service with its spawn and ready times and a bar on a common time
// axis, then the legend, deaths, log lines and warnings.
func (t *Timeline) WriteText(w io.Writer, v View) error {
	bw := bufio.NewWriter(w)
	width := v.Width
	if width == 0 {
		width = 80
	}
	width = max(width, MinWidth)
	nameW := len("service")
	for _, r := range t.Services {
		nameW = max(nameW, len(r.Name))
	}
	nameW = min(nameW, 16)
	prefix := nameW + 1 + 7 + 1 + 7 + 1
	barW := width - prefix
	end, step := v.axis(t, float64(barW), 8)
	// Column 0 is time 0 and the last column the chart's end; when the
	// end is a whole number of ticks, the bar is narrowed so that every
	// tick falls on a column and the ruler is regular.
	if n := end / step; math.Abs(n-math.Round(n)) < 1e-9 && n >= 1 {
		if per := (barW - 1) / int(math.Round(n)); per >= 2 {
			barW = per*int(math.Round(n)) + 1
		}
	}
	col := func(s Sec) int {
		c := int(math.Round(float64(s) / end * float64(barW-1)))
		return min(max(c, 0), barW-1)
	}
	inRange := func(s Sec) bool { return s >= 0 && float64(s) <= end }

	fmt.Fprintln(bw, t.title())
	wrap(bw, width, "", t.headline())
	fmt.Fprintln(bw)

	// Tick labels and the ruler.
	labels := []byte(strings.Repeat(" ", barW))
	ruler := []byte(strings.Repeat("-", barW))
	next := 0
	for i := 0; ; i++ {
		tv := float64(i) * step
		if tv > end*(1+1e-9) {
			break
		}
		c := col(Sec(tv))
		ruler[c] = '+'
		// Labels are centred on their tick, inside the bar's width.
		l := tickLabel(tv, step)
		at := min(max(c-len(l)/2, 0), barW-len(l))
		if at >= next {
			copy(labels[at:], l)
			next = at + len(l) + 1
		}
	}
	if t.RunInit != nil && inRange(*t.RunInit) {
		ruler[col(*t.RunInit)] = chInit
	}
	for i, m := range t.Marks {
		if i < 9 && inRange(m.At) {
			ruler[col(m.At)] = byte('1' + i)
		}
	}
	fmt.Fprintf(bw, "%-*s %7s %7s %s\n", nameW, "service", "spawned", "ready", strings.TrimRight(string(labels), " "))
	fmt.Fprintf(bw, "%-*s %7s %7s %s\n", nameW, "", "", "", ruler)
	if t.RunInit != nil {
		bar := []byte(strings.Repeat(" ", barW))
		for c := 0; c <= col(*t.RunInit) && c < barW; c++ {
			bar[c] = chKernel
		}
		fmt.Fprintf(bw, "%-*s %7s %7s %s\n", nameW, "(kernel)", "0.000", colTime(t.RunInit), strings.TrimRight(string(bar), " "))
	}
	taken := t.Taken
	for i := range t.Services {
		r := &t.Services[i]
		bar := []byte(strings.Repeat(" ", barW))
		fill := func(from, to Sec, ch byte) {
			if from > Sec(end) || to < 0 {
				return
			}
			for c := col(from); c <= col(min(to, Sec(end))); c++ {
				bar[c] = ch
			}
		}
		mark := func(at Sec, ch byte) {
			if inRange(at) {
				bar[col(at)] = ch
			}
		}
		if r.State == StateUp && r.Spawned != nil {
			switch {
			case r.Ready != nil:
				fill(*r.Spawned, *r.Ready, chStarting)
				fill(*r.Ready, taken, chReady)
			case r.Notifies:
				fill(*r.Spawned, taken, chStarting)
			default:
				fill(*r.Spawned, taken, chRunning)
			}
		}
		for _, d := range r.Deaths {
			mark(d.At, chDeath)
		}
		if r.DownSince != nil {
			mark(*r.DownSince, chDeath)
		}
		if r.Done != nil {
			mark(*r.Done, chDone)
		}
		text := strings.TrimRight(string(bar), " ")
		switch r.State {
		case StateNotStarted, StateNotSupervised, StateDown, StateFinishing, StateFailed:
			note := "(" + r.State + ")"
			if r.State == StateDown && r.DownSince != nil {
				note = "(down)"
			}
			if len(text)+1+len(note) <= barW {
				if text != "" {
					text += " "
				}
				text += note
			}
		}
		name := r.Name
		if len(name) > nameW {
			name = name[:nameW-1] + "~"
		}
		ready := colTime(r.Ready)
		if r.Done != nil {
			ready = colTime(r.Done)
		}
		fmt.Fprintf(bw, "%-*s %7s %7s %s\n", nameW, name, colTime(r.Spawned), ready, text)
	}
	fmt.Fprintln(bw)
	legend := []string{
		"- spawned, not ready yet", "# ready", "= running (no notification-fd)",
		"x ./run died", "* oneshot up", "~ kernel", "| kernel ran init", "1-9 marks",
	}
	line := ""
	for _, l := range legend {
		if line != "" && len(line)+3+len(l) > width {
			fmt.Fprintln(bw, line)
			line = ""
		}
		if line != "" {
			line += "   "
		}
		line += l
	}
	fmt.Fprintln(bw, line)
	for i, m := range t.Marks {
		wrap(bw, width, fmt.Sprintf("mark %d at %s s: ", i+1, fmtSec(m.At)), m.Text)
	}
	for i := range t.Services {
		r := &t.Services[i]
		if len(r.Deaths) > 0 {
			var ds []string
			for _, d := range r.Deaths {
				ds = append(ds, fmt.Sprintf("%s s (%s)", fmtSec(d.At), d.What()))
			}
			wrap(bw, width, fmt.Sprintf("%s: %d death(s) in supervise/death_tally: ", r.Name, len(r.Deaths)), strings.Join(ds, ", "))
		}
		for _, e := range r.Log {
			wrap(bw, width, fmt.Sprintf("%s: at %s s: ", r.Name, fmtSec(e.At)), e.Text)
		}
	}
	for _, wn := range t.Warnings {
		wrap(bw, width, "warning: ", wn)
	}
	return bw.Flush()
}

// wrap writes head+text folded at width columns, continuation lines
// indented by two spaces.
func wrap(w io.Writer, width int, head, text string) {
	line, fresh := head, true
	indent := "  "
	if head == "" {
		indent = ""
	}
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > width && !fresh {
			fmt.Fprintln(w, strings.TrimRight(line, " "))
			line, fresh = indent, true
		}
		if !fresh && !strings.HasSuffix(line, " ") {
			line += " "
		}
		line += word
		fresh = false
	}
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}
