package ranker

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/internal/cputime"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// rwCatalog is the catalogue read path this package had before the
// sharded catalogue: one RWMutex over one map, the filter a closure over
// the request's fields. Kept as the baseline of BenchmarkFilterAccept.
type rwCatalog struct {
	mu    sync.RWMutex
	items map[string]*Item
}

func rwMatcher(f *omnirankv1.Filter) func(*Item) bool {
	prefix := f.GetCategoryPrefix()
	lo, hi := f.GetPrice().GetMin(), f.GetPrice().GetMax()
	attrs := f.GetAttributes()
	return func(it *Item) bool {
		if len(prefix) > len(it.Category) || !slices.Equal(prefix, it.Category[:len(prefix)]) {
			return false
		}
		if lo > 0 && it.Price < lo {
			return false
		}
		if hi > 0 && it.Price > hi {
			return false
		}
		for k, v := range attrs {
			if got, ok := it.Attributes[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
}

// BenchmarkFilterAccept measures the search filter alone, called for
// random products of a 100,000-product catalogue (a category filter
// accepting 20%, one exclusion) from concurrent goroutines: the old
// single-lock catalogue with a closure matcher against the sharded
// catalogue with the compiled filter.
//
//	go test -run '^$' -bench BenchmarkFilterAccept -cpu 1,2 ./ranker/
func BenchmarkFilterAccept(b *testing.B) {
	const n = 100_000
	c := newCatalog(slog.New(slog.NewTextHandler(io.Discard, nil)))
	old := &rwCatalog{items: map[string]*Item{}}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%07d", i)
		rec, err := json.Marshal(topology.ProductRecord{Product: storage.Product{ID: ids[i], Title: "t", Price: float64(1 + rng.IntN(200)),
			Category: []string{fmt.Sprintf("cat%02d", rng.IntN(5)), fmt.Sprintf("sub%d", rng.IntN(4))}}})
		if err != nil {
			b.Fatal(err)
		}
		c.apply(ids[i], false, rec)
		it, _ := c.get(ids[i])
		old.items[ids[i]] = it
	}
	// The index holds its own copies of the ids.
	probe := make([]string, n)
	for i, id := range ids {
		probe[i] = string([]byte(id))
	}
	f := &omnirankv1.Filter{CategoryPrefix: []string{"cat00"}, ExcludeIds: []string{ids[7]}}
	run := func(b *testing.B, accept func(string) bool) {
		cpu := cputime.Process()
		defer func() { b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op") }()
		b.RunParallel(func(pb *testing.PB) {
			r := rand.New(rand.NewPCG(rand.Uint64(), 3))
			hits, calls := 0, 0
			for pb.Next() {
				calls++
				if accept(probe[r.IntN(n)]) {
					hits++
				}
			}
			if calls >= 1000 && hits == 0 {
				b.Error("filter accepted nothing")
			}
		})
	}
	b.Run("rwmutex-closure", func(b *testing.B) {
		excluded := map[string]bool{ids[7]: true}
		match := rwMatcher(f)
		run(b, func(id string) bool {
			if excluded[id] {
				return false
			}
			old.mu.RLock()
			it, ok := old.items[id]
			old.mu.RUnlock()
			return ok && match(it)
		})
	})
	b.Run("sharded-compiled", func(b *testing.B) {
		r := &Ranker{catalog: c}
		q := &query{excluded: map[string]bool{ids[7]: true}, filter: compileFilter(f)}
		run(b, func(id string) bool { return r.admit(q, id) })
	})
}
