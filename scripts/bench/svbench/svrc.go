package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// svrcPrefix starts the scenarios of scripts/bench/svrcbench (the
// service manager), which have their own section: svrc against its
// critical-path bound, not against s6 or runit.
const svrcPrefix = "svrc "

// svrcTarget is the layered start's goal: at most 1.2x its bound.
const svrcTarget = 1.2

// readSvrc reads svrcbench's rows (svbench's row format).
func readSvrc(path string) ([]*row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []*row
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for _, r := range rows {
		if !strings.HasPrefix(r.Scenario, svrcPrefix) {
			return nil, fmt.Errorf("%s: scenario %q is not svrcbench's", path, r.Scenario)
		}
	}
	return rows, nil
}

// svrcMarkdown is the service manager's section of docs/benchmarks.md.
func svrcMarkdown(rep *report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Service manager (svrc)\n\n")
	var rows []*outRow
	for _, o := range rep.Rows {
		if strings.HasPrefix(o.Scenario, svrcPrefix) {
			rows = append(rows, o)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(&b, "svrc figures: not measured in this run.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "`scripts/bench/svrcbench`: `svrc` from this tree on a fresh `svscan` per round; the bound installs the same\n")
	fmt.Fprintf(&b, "service directories layer by layer and waits only for each layer's readiness (the critical path).\n\n")
	fmt.Fprintf(&b, "| scenario | parameter | unit | svrc | critical-path bound | svrc/bound | target |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, o := range rows {
		target := ""
		if x, ok := o.Ratio["bound"]; ok {
			target = fmt.Sprintf("<= %.1fx bound: **%s**", svrcTarget, metStr(x <= svrcTarget))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", o.Scenario, o.Param, o.Unit,
			cell(o, "svinit"), cell(o, "bound"), ratioCell(o, "bound"), target)
	}
	return b.String()
}
