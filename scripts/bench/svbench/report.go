package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/svinit/svinit/scripts/bench/benchrow"
)

// machine describes where the figures were taken.
type machine struct {
	Date    string `json:"date"`
	CPUs    int    `json:"nproc"`
	RAM     string `json:"ram"`
	Kernel  string `json:"kernel"`
	CPU     string `json:"cpu_model"`
	Load    string `json:"loadavg_at_start"`
	Go      string `json:"go"`
	S6      string `json:"s6"`
	Runit   string `json:"runit"`
	TmpFS   string `json:"scan_dir_fs"`
	Rounds  string `json:"rounds"`
	Elapsed string `json:"elapsed,omitempty"`
}

type stat struct {
	Samples []float64 `json:"samples"`
	Min     float64   `json:"min"`
	Median  float64   `json:"median"`
	Max     float64   `json:"max"`
}

type outRow struct {
	Scenario string             `json:"scenario"`
	Param    string             `json:"param,omitempty"`
	Unit     string             `json:"unit"`
	Higher   bool               `json:"higher_is_better,omitempty"`
	Note     string             `json:"note,omitempty"`
	Results  map[string]stat    `json:"results"`
	Ratio    map[string]float64 `json:"median_ratio"` // ours / theirs, by reference
	Target   string             `json:"target,omitempty"`
}

type report struct {
	Machine machine           `json:"machine"`
	Rows    []*outRow         `json:"scenarios"`
	Image   map[string]any    `json:"image,omitempty"`
	Boot    string            `json:"boot"`
	Names   map[string]string `json:"implementations"`
}

func reportMain(args []string) error {
	fs := flag.NewFlagSet("svbench report", flag.ContinueOnError)
	sup := fs.String("supervision", "out/bench-supervision.json", "svbench run output")
	svlog := fs.String("svlog", "", "output of scripts/bench/svlog.sh")
	image := fs.String("image", "", "output of scripts/bench/image.sh")
	svrcOut := fs.String("svrc", "", "output of scripts/bench/svrcbench")
	boot := fs.String("boot", "out/boot-time.txt", "boot time written by the QEMU boot tests")
	jsonOut := fs.String("json", "out/bench.json", "JSON output")
	md := fs.String("md", "docs/benchmarks.md", "Markdown output")
	scanFS := fs.String("fs", "", "file system the scan directories lived on")
	rounds := fs.String("rounds", "", "round counts, as text")
	load := fs.String("load", "", "load average at start")
	elapsed := fs.String("elapsed", "", "run time of the whole benchmark")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var rows []*row
	b, err := os.ReadFile(*sup)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return fmt.Errorf("%s: %v", *sup, err)
	}
	if *svlog != "" {
		r, err := parseSvlog(*svlog)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if *svrcOut != "" {
		r, err := readSvrc(*svrcOut)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	rep := &report{Names: map[string]string{
		"svinit": "this tree (svscan, svc, svlog, mkimage)",
		"s6":     "Debian s6 (s6-svscan -c 4096, s6-supervise, s6-svc, s6-log)",
		"runit":  "Debian runit (runsvdir -P, runsv, svlogd)",
	}}
	var imgRows []*row
	if *image != "" {
		imgRows, rep.Image, err = parseImage(*image)
		if err != nil {
			return err
		}
	}
	rep.Boot = "not measured in this run"
	if b, err := os.ReadFile(*boot); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		rep.Boot = strings.TrimSpace(string(b))
	}
	rep.Machine = describe(*scanFS, *rounds, *load, *elapsed)
	for _, r := range append(rows, imgRows...) {
		rep.Rows = append(rep.Rows, summarize(r))
	}
	j, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(*jsonOut, append(j, '\n'), 0o644); err != nil {
		return err
	}
	text := markdown(rep)
	fmt.Print(text)
	return writeMarkdown(*md, text)
}

// handWritten starts the part of the Markdown output written by hand
// (how the figures are measured, and their analysis from profiles):
// writeMarkdown keeps it.
const handWritten = "<!-- Written by hand from here on: make bench keeps this part. -->\n"

// writeMarkdown writes the generated text to path, followed by the
// hand-written part of the file already there (from the handWritten
// line to the end), if it has one.
func writeMarkdown(path, generated string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	text := generated
	if i := strings.Index(string(old), handWritten); i >= 0 {
		text += "\n" + string(old[i:])
	}
	return os.WriteFile(path, []byte(text), 0o644)
}

func summarize(r *row) *outRow {
	o := &outRow{Scenario: r.Scenario, Param: r.Param, Unit: r.Unit, Higher: r.Higher, Note: r.Note,
		Results: map[string]stat{}, Ratio: map[string]float64{}}
	for im, v := range r.Samples {
		if len(v) == 0 {
			continue
		}
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		o.Results[im] = stat{Samples: v, Min: s[0], Median: benchrow.Median(s), Max: s[len(s)-1]}
	}
	ours, ok := o.Results["svinit"]
	for im, st := range o.Results {
		if im != "svinit" && ok && st.Median > 0 {
			o.Ratio[im] = ours.Median / st.Median
		}
	}
	// Targets: the project's performance goals (at most s6's time and
	// memory, and the tighter ratios the supervisor was then held to).
	if x, have := o.Ratio["s6"]; have {
		switch {
		case r.Scenario == "scan-to-up" && r.Param == "N=100":
			o.Target = fmt.Sprintf("< 1x s6: **%s**; <= 0.5x s6: **%s**", metStr(x < 1), metStr(x <= 0.5))
		case r.Scenario == "memory (PSS)" && r.Param == "N=100":
			o.Target = fmt.Sprintf("< 1x s6: **%s**; <= 0.3x s6: **%s**", metStr(x < 1), metStr(x <= 0.3))
		case r.Scenario == "logging throughput":
			o.Target = fmt.Sprintf(">= 1x s6-log: **%s**", metStr(x >= 1))
		}
	}
	// Spawning at the limit: against the bare spawn loop of the same
	// run scripts, not against s6.
	if x, have := o.Ratio[loopImpl]; have && r.Scenario == shScenario {
		o.Target = fmt.Sprintf("<= 1.5x the bare spawn loop (%s ms): %.2fx, **%s**",
			fmtNum(o.Results[loopImpl].Median), x, metStr(x <= 1.5))
	}
	return o
}

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

var svlogRound = regexp.MustCompile(`^round (\d+): (\S+) (\d+) lines/s, cpu ([0-9.]+)s`)
var svlogInput = regexp.MustCompile(`^input: (\d+) lines`)

func parseSvlog(path string) (*row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]string{"svlog": "svinit", "s6-log": "s6", "svlogd": "runit"}
	r := &row{Scenario: "logging throughput", Unit: "lines/s", Higher: true,
		Note: "svlog vs s6-log vs svlogd: timestamps, 1 MB rotation, 10 archives (scripts/bench/svlog.sh)", Samples: map[string][]float64{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := svlogInput.FindStringSubmatch(sc.Text()); m != nil {
			r.Param = m[1] + " lines"
		}
		m := svlogRound.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[3], 64)
		if im, ok := names[m[2]]; ok {
			r.Add(im, v)
		}
	}
	if len(r.Samples) == 0 {
		return nil, fmt.Errorf("%s: no svlog.sh round results found", path)
	}
	return r, nil
}

var imageRound = regexp.MustCompile(`^round \d+: mkimage ([0-9.]+)s\s+mkuimage ([0-9.]+)s\s+mkimage \(xz\) ([0-9.]+)s`)
var imageSize = regexp.MustCompile(`default (\d+) bytes .*default without modules (\d+) bytes .*minimal (\d+) bytes`)
var linuxbootSize = regexp.MustCompile(`^size \(xz\): linuxboot (\d+) bytes`)

func parseImage(path string) ([]*row, map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	build := &row{Scenario: "image build (warm cache, no compression)", Param: "images/default.yaml", Unit: "s",
		Note: "mkimage vs u-root's mkuimage, same commands (scripts/bench/image.sh)", Samples: map[string][]float64{}}
	xz := &row{Scenario: "image build (warm cache, xz)", Param: "images/default.yaml", Unit: "s", Samples: map[string][]float64{}}
	info := map[string]any{}
	for _, l := range strings.Split(string(b), "\n") {
		if m := imageRound.FindStringSubmatch(l); m != nil {
			a, _ := strconv.ParseFloat(m[1], 64)
			u, _ := strconv.ParseFloat(m[2], 64)
			x, _ := strconv.ParseFloat(m[3], 64)
			build.Add("svinit", a)
			build.Add("u-root", u)
			xz.Add("svinit", x)
		}
		if m := imageSize.FindStringSubmatch(l); m != nil {
			d, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[2])
			mn, _ := strconv.Atoi(m[3])
			info["size_xz_default"] = d
			info["size_xz_default_without_modules"] = n
			info["size_xz_minimal"] = mn
		}
		if m := linuxbootSize.FindStringSubmatch(l); m != nil {
			info["size_xz_linuxboot"], _ = strconv.Atoi(m[1])
		}
	}
	if len(build.Samples) == 0 {
		return nil, nil, fmt.Errorf("%s: no image.sh round results found (did it fail?)", path)
	}
	return []*row{build, xz}, info, nil
}

func describe(scanFS, rounds, load, elapsed string) machine {
	m := machine{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), CPUs: runtime.NumCPU(), Go: runtime.Version(),
		TmpFS: scanFS, Rounds: rounds, Load: load, Elapsed: elapsed}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.Atoi(f[1])
				m.RAM = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	pkg := func(name string) string {
		out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", name).Output()
		if err != nil {
			return "unknown"
		}
		return string(out)
	}
	m.S6, m.Runit = pkg("s6"), pkg("runit")
	return m
}

func fmtNum(v float64) string {
	switch {
	case v >= 10000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func cell(o *outRow, im string) string {
	s, ok := o.Results[im]
	if !ok {
		return "—"
	}
	if len(s.Samples) == 1 {
		return fmt.Sprintf("**%s** (1 round)", fmtNum(s.Median))
	}
	return fmt.Sprintf("%s / **%s** / %s", fmtNum(s.Min), fmtNum(s.Median), fmtNum(s.Max))
}

func ratioCell(o *outRow, im string) string {
	x, ok := o.Ratio[im]
	if !ok {
		return "—"
	}
	if x < 0.1 {
		return fmt.Sprintf("%.2gx", x)
	}
	return fmt.Sprintf("%.2fx", x)
}

func markdown(rep *report) string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Generated by `make bench` (scripts/bench/bench.sh) down to the method and the analysis, which are written\n")
	fmt.Fprintf(&b, "by hand and kept by the next run. Raw figures: `out/bench.json`.\n\n")
	fmt.Fprintf(&b, "## Machine\n\n")
	fmt.Fprintf(&b, "| | |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| date | %s |\n| CPU | %s, nproc %d |\n| RAM | %s |\n| kernel | %s |\n| load average at start | %s |\n", m.Date, m.CPU, m.CPUs, m.RAM, m.Kernel, m.Load)
	fmt.Fprintf(&b, "| Go | %s |\n| references | s6 %s, runit %s (Debian packages) |\n| scan directories on | %s |\n| rounds | %s |\n", m.Go, m.S6, m.Runit, m.TmpFS, m.Rounds)
	if m.Elapsed != "" {
		fmt.Fprintf(&b, "| run time of `make bench` | %s |\n", m.Elapsed)
	}
	fmt.Fprintf(&b, "\nThe machine is shared (other jobs run at the same time), so every scenario alternates the\n")
	fmt.Fprintf(&b, "implementations from round to round (A B C, C B A, ...). Each cell is min / **median** / max over the\n")
	fmt.Fprintf(&b, "rounds; the ratio is ours / theirs of the medians (below 1 is better for times and memory, above 1 for\n")
	fmt.Fprintf(&b, "throughput).\n\n")
	fmt.Fprintf(&b, "## Results\n\n")
	fmt.Fprintf(&b, "| scenario | parameter | unit | svinit | s6 | svinit/s6 | runit | svinit/runit | target |\n")
	fmt.Fprintf(&b, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, o := range rep.Rows {
		if strings.HasPrefix(o.Scenario, "image") || strings.HasPrefix(o.Scenario, svrcPrefix) {
			continue
		}
		t := o.Target
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", o.Scenario, o.Param, o.Unit,
			cell(o, "svinit"), cell(o, "s6"), ratioCell(o, "s6"), cell(o, "runit"), ratioCell(o, "runit"), t)
	}
	fmt.Fprintf(&b, "\n## Image\n\n")
	fmt.Fprintf(&b, "| scenario | parameter | unit | mkimage | u-root mkuimage | ratio |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, o := range rep.Rows {
		if !strings.HasPrefix(o.Scenario, "image") {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", o.Scenario, o.Param, o.Unit, cell(o, "svinit"), cell(o, "u-root"), ratioCell(o, "u-root"))
	}
	if len(rep.Image) > 0 {
		mib := func(k string) string {
			v, _ := rep.Image[k].(int)
			return fmt.Sprintf("%d bytes (%.2f MiB)", v, float64(v)/(1<<20))
		}
		fmt.Fprintf(&b, "\nSizes (xz): default image %s; default without kernel modules %s; minimal image %s",
			mib("size_xz_default"), mib("size_xz_default_without_modules"), mib("size_xz_minimal"))
		if _, ok := rep.Image["size_xz_linuxboot"]; ok {
			fmt.Fprintf(&b, "; LinuxBoot image (images/linuxboot.yaml, no modules; budget 6 MiB) %s", mib("size_xz_linuxboot"))
		}
		b.WriteString(".\n")
	} else {
		fmt.Fprintf(&b, "\nImage figures: not measured in this run.\n")
	}
	b.WriteString(svrcMarkdown(rep))
	fmt.Fprintf(&b, "\n## Boot\n\nKernel handoff to all early services up, against u-root's stock init reaching its shell (target <= 1.1x):\n")
	fmt.Fprintf(&b, "%s\n", quote(rep.Boot))
	return b.String()
}

func quote(s string) string {
	if !strings.Contains(s, "\n") {
		return s + "."
	}
	return "\n```\n" + s + "\n```"
}
