package benchrow

import "testing"

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := append([]float64(nil), tc.v...)
		if got := Median(tc.v); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.v, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.v[i] {
				t.Errorf("Median reordered its argument: %v", tc.v)
			}
		}
	}
}

func TestAdd(t *testing.T) {
	r := Row{Samples: map[string][]float64{}}
	r.Add("a", 1)
	r.Add("a", 2)
	r.Add("b", 3)
	if r.Rounds != 2 || len(r.Samples["a"]) != 2 || r.Samples["b"][0] != 3 {
		t.Errorf("after three samples: %+v", r)
	}
}
