package index

import (
	"context"
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkSearch measures single-goroutine top-10 queries on a 20k × 128
// low-rank graph at several ef values, reporting recall@10 beside ns/op.
func BenchmarkSearch(b *testing.B) {
	d := dataset(b, 20000, 200, 128, 1)
	exact := buildFlat(b, d)
	for _, q := range []Quantization{QuantNone, QuantInt8} {
		h := buildHNSW(b, d, runtime.GOMAXPROCS(0), WithQuantization(q))
		for _, ef := range []int{32, 64, 128} {
			b.Run(fmt.Sprintf("%s/ef=%d", q, ef), func(b *testing.B) {
				opts := SearchOptions{K: 10, Ef: ef}
				r := recall(b, h, exact, d, opts)
				ctx := context.Background()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := h.Search(ctx, d.Query(i%d.NQ()), opts); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(r, "recall@10")
			})
		}
	}
	b.Run("filtered-10%", func(b *testing.B) {
		h := buildHNSW(b, d, runtime.GOMAXPROCS(0))
		opts := SearchOptions{K: 10, Filter: func(id string) bool { return id[len(id)-1] == '3' }}
		r := recall(b, h, exact, d, opts)
		ctx := context.Background()
		i := 0
		for b.Loop() {
			if _, err := h.Search(ctx, d.Query(i%d.NQ()), opts); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(r, "recall@10")
	})
}

// BenchmarkUpsert measures inserting into a growing graph, one goroutine.
func BenchmarkUpsert(b *testing.B) {
	d := dataset(b, 20000, 0, 128, 2)
	h, err := NewHNSW(d.Dim)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if err := h.Upsert(idOf(i), d.Row(i%d.N())); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
