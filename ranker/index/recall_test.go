package index

import (
	"runtime"
	"testing"
)

// scaled returns n, or n/div under the race detector.
func scaled(n, div int) int {
	if raceEnabled {
		return n / div
	}
	return n
}

func TestRecallVsFlat(t *testing.T) {
	d := dataset(t, scaled(10000, 5), scaled(100, 2), 64, 7)
	exact := buildFlat(t, d)
	for _, tc := range []struct {
		name    string
		quant   Quantization
		workers int
	}{
		{"float/serial", QuantNone, 1},
		{"float/parallel", QuantNone, runtime.GOMAXPROCS(0)},
		{"int8/parallel", QuantInt8, runtime.GOMAXPROCS(0)},
		{"int8-only/parallel", QuantInt8Only, runtime.GOMAXPROCS(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && tc.workers == 1 {
				t.Skip("serial build covered without -race")
			}
			h := buildHNSW(t, d, tc.workers, WithQuantization(tc.quant), WithEfConstruction(100), WithSeed(3))
			if h.Len() != d.N() {
				t.Fatalf("Len %d, want %d", h.Len(), d.N())
			}
			r := recall(t, h, exact, d, SearchOptions{K: 10})
			t.Logf("n=%d recall@10 = %.4f", d.N(), r)
			if r < 0.95 {
				t.Fatalf("recall@10 = %.4f < 0.95", r)
			}
		})
	}
}

func TestFilteredRecall(t *testing.T) {
	d := dataset(t, scaled(20000, 8), scaled(50, 2), 64, 11)
	h := buildHNSW(t, d, runtime.GOMAXPROCS(0), WithEfConstruction(100), WithSeed(5))
	exact := buildFlat(t, d)
	for _, sel := range []float64{0.5, 0.05, 0.001} {
		// Accept ids whose number falls in a pseudo-random subset of the
		// requested density, so accepted ids are scattered over the graph.
		mod := int(1 / sel)
		filter := func(id string) bool {
			var n int
			for _, c := range id[1:] {
				n = n*10 + int(c-'0')
			}
			return (n*2654435761)%mod == 0
		}
		for _, tc := range []struct {
			name     string
			strategy int
			hint     float64
		}{
			{"auto/estimated", 0, 0},
			{"auto/hinted", 0, sel},
			{"exact", 1, 0},
			{"graph", 2, 0},
		} {
			t.Run(tc.name+"/"+formatSel(sel), func(t *testing.T) {
				h.forceStrategy = tc.strategy
				defer func() { h.forceStrategy = 0 }()
				opts := SearchOptions{K: 10, Filter: filter, Selectivity: tc.hint}
				r := recall(t, h, exact, d, opts)
				t.Logf("selectivity %v: recall@10 = %.4f", sel, r)
				if r < 0.95 {
					t.Fatalf("filtered recall@10 = %.4f < 0.95", r)
				}
				if tc.strategy == 1 && r != 1 {
					t.Fatalf("exact scan recall %.4f, want 1", r)
				}
			})
		}
	}
}

func formatSel(s float64) string {
	switch s {
	case 0.5:
		return "50%"
	case 0.05:
		return "5%"
	}
	return "0.1%"
}
