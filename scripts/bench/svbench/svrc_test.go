package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportSvrc folds svrcbench's rows into the report: their own
// section with the ratio to the bound and the 1.2x target, and not in
// the table against s6 and runit.
func TestReportSvrc(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sup := write("sup.json", []*row{{Scenario: "scan-to-up", Param: "N=100", Unit: "ms", Samples: map[string][]float64{"svinit": {30}, "s6": {80}}}})
	tests := []struct {
		svrc, bound float64
		want        string
	}{
		{800, 760, "| svrc -u change | 100 longruns | ms | **800.0** (1 round) | **760.0** (1 round) | 1.05x | <= 1.2x bound: **met** |"},
		{1000, 760, "| 1.32x | <= 1.2x bound: **MISSED** |"},
	}
	for _, tt := range tests {
		svrc := write("svrc.json", []*row{
			{Scenario: "svrc -u change", Param: "100 longruns", Unit: "ms", Samples: map[string][]float64{"svinit": {tt.svrc}, "bound": {tt.bound}}},
			{Scenario: "svrc read + plan", Param: "1000 definitions", Unit: "ms", Samples: map[string][]float64{"svinit": {40}}},
		})
		md := filepath.Join(dir, "b.md")
		args := []string{"-supervision", sup, "-svrc", svrc, "-boot", filepath.Join(dir, "none"), "-json", filepath.Join(dir, "out.json"), "-md", md}
		if err := reportMain(args); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(md)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		sec := s[strings.Index(s, "## Service manager (svrc)"):]
		if !strings.Contains(sec, tt.want) || !strings.Contains(sec, "| svrc read + plan | 1000 definitions | ms | **40.00** (1 round) |") {
			t.Errorf("svrc section:\n%s\nwant %q", sec, tt.want)
		}
		results := s[strings.Index(s, "## Results"):strings.Index(s, "## Image")]
		if strings.Contains(results, "svrc") {
			t.Errorf("svrc rows in the table against s6:\n%s", results)
		}
	}
	bad := write("bad.json", []*row{{Scenario: "scan-to-up", Unit: "ms", Samples: map[string][]float64{}}})
	if err := reportMain([]string{"-supervision", sup, "-svrc", bad, "-boot", "x", "-json", filepath.Join(dir, "o.json"), "-md", filepath.Join(dir, "c.md")}); err == nil {
		t.Error("a file that is not svrcbench's was accepted")
	}
}
