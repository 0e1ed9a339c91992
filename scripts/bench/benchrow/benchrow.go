// Package benchrow is the row of figures the benchmark programs write
// (svbench run, svrcbench) and svbench report reads: one scenario and
// parameter, the samples of each implementation.
package benchrow

import "sort"

// Row is one line of the benchmarks' table, as JSON.
type Row struct {
	Scenario string               `json:"scenario"`
	Param    string               `json:"param,omitempty"`
	Unit     string               `json:"unit"`
	Higher   bool                 `json:"higher_is_better,omitempty"`
	Rounds   int                  `json:"rounds"`
	Note     string               `json:"note,omitempty"`
	Samples  map[string][]float64 `json:"samples"` // by implementation
}

// Add records a sample of implementation impl; Rounds is the largest
// number of samples any implementation has.
func (r *Row) Add(impl string, v float64) {
	r.Samples[impl] = append(r.Samples[impl], v)
	if n := len(r.Samples[impl]); n > r.Rounds {
		r.Rounds = n
	}
}

// Median returns the median of v (the mean of the middle two for an
// even count), 0 for none; v is left as it was.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
