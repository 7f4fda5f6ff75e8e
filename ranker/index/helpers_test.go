package index

import (
	"context"
	"fmt"
	"testing"
)

func idOf(i int) string { return fmt.Sprintf("p%06d", i) }

func dataset(t testing.TB, n, q, dim int, seed uint64) *Dataset {
	t.Helper()
	d, err := GenerateDataset(DatasetConfig{N: n, Queries: q, Dim: dim, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fill upserts every base vector of d into ix with the given workers.
func fill(t testing.TB, ix Index, d *Dataset, workers int) {
	t.Helper()
	ids := make([]string, d.N())
	vecs := make([][]float32, d.N())
	for i := range ids {
		ids[i], vecs[i] = idOf(i), d.Row(i)
	}
	if err := upsertBatch(context.Background(), ix, ids, vecs, workers); err != nil {
		t.Fatal(err)
	}
}

func buildHNSW(t testing.TB, d *Dataset, workers int, opts ...Option) *HNSW {
	t.Helper()
	h, err := NewHNSW(d.Dim, opts...)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, h, d, workers)
	return h
}

func buildFlat(t testing.TB, d *Dataset) *Flat {
	t.Helper()
	f := NewFlat(d.Dim)
	fill(t, f, d, 1)
	return f
}

func search(t testing.TB, ix Index, q []float32, opts SearchOptions) []Hit {
	t.Helper()
	hits, err := ix.Search(context.Background(), q, opts)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// recall is the mean fraction of the exact top-k found by ix over d's
// queries.
func recall(t testing.TB, ix, exact Index, d *Dataset, opts SearchOptions) float64 {
	t.Helper()
	found, total := 0, 0
	for i := range d.NQ() {
		want := search(t, exact, d.Query(i), opts)
		got := search(t, ix, d.Query(i), opts)
		checkHits(t, got, opts)
		in := make(map[string]bool, len(got))
		for _, h := range got {
			in[h.ID] = true
		}
		for _, w := range want {
			if in[w.ID] {
				found++
			}
		}
		total += len(want)
	}
	if total == 0 {
		t.Fatal("no ground-truth hits")
	}
	return float64(found) / float64(total)
}

// checkHits asserts hits are sorted, unique, at most K and accepted by the
// filter.
func checkHits(t testing.TB, hits []Hit, opts SearchOptions) {
	t.Helper()
	if len(hits) > opts.K {
		t.Fatalf("%d hits for K=%d", len(hits), opts.K)
	}
	seen := make(map[string]bool, len(hits))
	for i, h := range hits {
		if seen[h.ID] {
			t.Fatalf("duplicate hit %q", h.ID)
		}
		seen[h.ID] = true
		if i > 0 && h.Score > hits[i-1].Score {
			t.Fatalf("hits not sorted: %v then %v", hits[i-1], h)
		}
		if opts.Filter != nil && !opts.Filter(h.ID) {
			t.Fatalf("hit %q rejected by the filter", h.ID)
		}
	}
}
