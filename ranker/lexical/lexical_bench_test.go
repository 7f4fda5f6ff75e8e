//go:build unix

package lexical

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/omnirank/omnirank/internal/cputime"
)

// The benchmark catalogue: the vocabulary of the Recommend load test
// (colour, material, noun titles), so that common words match thousands
// of products, plus a brand and a category path per product.
var (
	benchNouns     = []string{"shoe", "boot", "sandal", "sneaker", "shirt", "jacket", "coat", "dress", "skirt", "hat", "scarf", "glove", "bag", "backpack", "wallet", "watch", "ring", "necklace", "lamp", "chair", "table", "sofa", "pillow", "blanket", "rug", "mug", "cup", "plate", "bowl", "pan", "pot", "kettle", "knife", "spoon", "guitar", "drum", "camera", "headphones", "speaker", "bicycle"}
	benchMaterials = []string{"leather", "cotton", "wool", "silk", "linen", "denim", "steel", "wooden", "ceramic", "glass", "plastic", "bamboo"}
	benchColours   = []string{"red", "blue", "green", "black", "white", "grey", "brown", "pink", "yellow", "orange", "purple", "beige"}
)

func benchDocs(n int) []Doc {
	rng := rand.New(rand.NewPCG(1, 7))
	docs := make([]Doc, n)
	for i := range docs {
		c, m, o := benchColours[rng.IntN(len(benchColours))], benchMaterials[rng.IntN(len(benchMaterials))], benchNouns[rng.IntN(len(benchNouns))]
		docs[i] = Doc{
			ID:          fmt.Sprintf("p%07d", i),
			Title:       c + " " + m + " " + o,
			Description: fmt.Sprintf("A %s %s made of %s, model %d.", c, o, m, i),
			Brand:       fmt.Sprintf("brand%03d", rng.IntN(500)),
			Category:    []string{fmt.Sprintf("cat%02d", rng.IntN(5)), o},
			Attributes:  map[string]string{"colour": c, "material": m},
		}
	}
	return docs
}

// benchProducts is the catalogue size (OMNIRANK_BENCH_PRODUCTS, default
// 100,000).
func benchProducts(b *testing.B) int {
	if s := os.Getenv("OMNIRANK_BENCH_PRODUCTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("OMNIRANK_BENCH_PRODUCTS=%q", s)
		}
		return n
	}
	return 100_000
}

func benchIndex(b *testing.B, docs []Doc, cfg Config) *Index {
	b.Helper()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	x, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = x.Close() })
	start := time.Now()
	for _, d := range docs {
		x.Put(d)
	}
	if err := x.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	b.Logf("indexed %d products in %v, index heap %.1f MiB", len(docs), took.Round(time.Millisecond), float64(heap()-before)/(1<<20))
	return x
}

// BenchmarkBuild is the rebuild a ranker does at start: every product put
// (as the catalogue's initial load does), then flushed.
//
//	go test -run '^$' -bench BenchmarkBuild -benchtime 1x ./ranker/lexical/
func BenchmarkBuild(b *testing.B) {
	docs := benchDocs(benchProducts(b))
	for b.Loop() {
		x, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range docs {
			x.Put(d)
		}
		if err := x.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		_ = x.Close()
	}
	b.ReportMetric(float64(len(docs)), "products")
}

// BenchmarkSearch is one lexical query at the ranker's default pool (64
// hits): one to three words, unfiltered and with a filter accepting one
// product in five; without and with WordNet synonym expansion (the
// default of omnirank serve).
//
//	go test -run '^$' -bench BenchmarkSearch -benchtime 2000x ./ranker/lexical/
func BenchmarkSearch(b *testing.B) {
	docs := benchDocs(benchProducts(b))
	rng := rand.New(rand.NewPCG(3, 3))
	queries := make([]string, 512)
	for i := range queries {
		o := benchNouns[rng.IntN(len(benchNouns))]
		switch i % 3 {
		case 0:
			queries[i] = o
		case 1:
			queries[i] = benchColours[rng.IntN(len(benchColours))] + " " + o
		default:
			queries[i] = benchColours[rng.IntN(len(benchColours))] + " " + benchMaterials[rng.IntN(len(benchMaterials))] + " " + o
		}
	}
	// The ranker's filter looks products up by id: so does this one.
	accepted := map[string]bool{}
	for i, d := range docs {
		if i%5 == 0 {
			accepted[d.ID] = true
		}
	}
	filter := func(id string) bool { return accepted[id] }
	withWordNet := DefaultConfig()
	withWordNet.Expander = wordNetExpanderForTest(b)
	for _, expansion := range []struct {
		name string
		cfg  Config
	}{{"plain", DefaultConfig()}, {"wordnet", withWordNet}} {
		x := benchIndex(b, docs, expansion.cfg)
		for _, bc := range []struct {
			name   string
			accept func(string) bool
		}{{"unfiltered", nil}, {"filter-20pct", filter}} {
			b.Run(expansion.name+"/"+bc.name, func(b *testing.B) {
				i := 0
				cpu0 := cputime.Process()
				for b.Loop() {
					hits, err := x.Search(context.Background(), queries[i%len(queries)], SearchOptions{K: 64, Accept: bc.accept, Selectivity: 0.2})
					if err != nil || len(hits) == 0 {
						b.Fatalf("%q: %d hits, %v", queries[i%len(queries)], len(hits), err)
					}
					i++
				}
				// CPU per query: unlike wall time, it does not grow when other
				// processes share the CPUs.
				b.ReportMetric(float64(cputime.Process()-cpu0)/float64(i), "cpu-ns/op")
			})
		}
	}
}
