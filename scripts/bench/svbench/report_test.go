package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportKeepsAnalysis runs the report twice over docs/benchmarks.md's
// current text: the generated part is replaced by the new figures, the
// hand-written method and analysis are kept, once, unchanged.
func TestReportKeepsAnalysis(t *testing.T) {
	dir := t.TempDir()
	doc, err := os.ReadFile("../../../docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(doc), handWritten)
	if i < 0 {
		t.Fatalf("docs/benchmarks.md has no %q line: the analysis would be lost", strings.TrimSpace(handWritten))
	}
	analysis := string(doc[i:])
	if !strings.Contains(analysis, "## Method") || !strings.Contains(analysis, "## Analysis") {
		t.Fatalf("docs/benchmarks.md: no method and analysis after the hand-written marker")
	}
	md := filepath.Join(dir, "benchmarks.md")
	if err := os.WriteFile(md, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	rows := []*row{{Scenario: "scan-to-up", Param: "N=100", Unit: "ms", Samples: map[string][]float64{"svinit": {30, 31, 32}, "s6": {80, 81, 82}}}}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	sup := filepath.Join(dir, "sup.json")
	if err := os.WriteFile(sup, b, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-supervision", sup, "-boot", filepath.Join(dir, "none"), "-json", filepath.Join(dir, "out.json"), "-md", md}
	for round := 1; round <= 2; round++ {
		if err := reportMain(args); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		s := string(got)
		if !strings.HasSuffix(s, "\n"+analysis) || strings.Count(s, handWritten) != 1 {
			t.Fatalf("round %d: the analysis is not kept once at the end:\n%s", round, s)
		}
		if !strings.Contains(s, "| scan-to-up | N=100 | ms | 30.00 / **31.00** / 32.00 | 80.00 / **81.00** / 82.00 | 0.38x |") ||
			!strings.Contains(s, "< 1x s6: **met**; <= 0.5x s6: **met**") || !strings.Contains(s, "## Boot") {
			t.Fatalf("round %d: generated part missing:\n%s", round, s)
		}
		if strings.Contains(s, "| N=1000 |") {
			t.Fatalf("round %d: the old figures are still there", round)
		}
	}
}
