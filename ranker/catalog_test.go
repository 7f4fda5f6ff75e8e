package ranker

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

func productRecord(t testing.TB, id string, cat []string, price float64, attrs map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(topology.ProductRecord{Product: storage.Product{ID: id, Category: cat, Price: price, Attributes: attrs}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompiledFilter checks the compiled catalogue predicate, through the
// catalogue entry (the search path) and the item (the re-check), on
// category prefixes that a byte-wise prefix test would get wrong.
func TestCompiledFilter(t *testing.T) {
	c := newCatalog(slog.New(slog.NewTextHandler(io.Discard, nil)))
	items := map[string]struct {
		cat   []string
		price float64
		attrs map[string]string
	}{
		"shoe":   {[]string{"clothing", "shoes"}, 50, map[string]string{"color": "red"}},
		"shirt":  {[]string{"clothing", "shirts"}, 20, map[string]string{"color": "blue"}},
		"cloth":  {[]string{"clothingx"}, 10, nil},
		"nul":    {[]string{"a\x00b"}, 5, nil},
		"ab":     {[]string{"a", "b"}, 5, nil},
		"nocat":  {nil, 0, nil},
		"deeper": {[]string{"clothing", "shoes", "boots"}, 80, map[string]string{"color": "red", "size": "42"}},
	}
	for id, it := range items {
		c.apply(id, false, productRecord(t, id, it.cat, it.price, it.attrs))
	}
	cases := []struct {
		name   string
		filter *omnirankv1.Filter
		want   []string
	}{
		{"none", nil, []string{"ab", "cloth", "deeper", "nocat", "nul", "shirt", "shoe"}},
		{"top category, not a byte prefix", &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}}, []string{"deeper", "shirt", "shoe"}},
		{"two levels", &omnirankv1.Filter{CategoryPrefix: []string{"clothing", "shoes"}}, []string{"deeper", "shoe"}},
		{"prefix longer than the path", &omnirankv1.Filter{CategoryPrefix: []string{"clothing", "shoes", "boots", "x"}}, nil},
		{"element with NUL is one element", &omnirankv1.Filter{CategoryPrefix: []string{"a\x00b"}}, []string{"nul"}},
		{"two elements are not one", &omnirankv1.Filter{CategoryPrefix: []string{"a"}}, []string{"ab"}},
		{"price range", &omnirankv1.Filter{Price: &omnirankv1.PriceRange{Min: 10, Max: 50}}, []string{"cloth", "shirt", "shoe"}},
		{"attributes", &omnirankv1.Filter{Attributes: map[string]string{"color": "red"}}, []string{"deeper", "shoe"}},
		{"attributes and category", &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}, Attributes: map[string]string{"color": "red", "size": "42"}}, []string{"deeper"}},
	}
	r := &Ranker{catalog: c}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &query{filter: compileFilter(tc.filter)}
			var viaEntry, viaItem []string
			c.each(func(it *Item) {
				if q.filter.match(it) {
					viaItem = append(viaItem, it.ID)
				}
			})
			for _, id := range []string{"ab", "cloth", "deeper", "nocat", "nul", "shirt", "shoe"} {
				if r.admit(q, id) {
					viaEntry = append(viaEntry, id)
				}
			}
			if fmt.Sprint(viaEntry) != fmt.Sprint(tc.want) {
				t.Fatalf("search filter admits %q, want %q", viaEntry, tc.want)
			}
			if len(viaItem) != len(tc.want) {
				t.Fatalf("item predicate accepts %q, want %q", viaItem, tc.want)
			}
		})
	}
	if r.admit(&query{filter: compileFilter(nil)}, "unknown") {
		t.Fatal("a product not in the catalogue was admitted")
	}
	if r.admit(&query{filter: compileFilter(nil), excluded: map[string]bool{"shoe": true}}, "shoe") {
		t.Fatal("an excluded product was admitted")
	}
}

// TestCatalogConcurrentUpdates runs filter reads against puts, moves
// between categories and deletes (for the race detector), then checks the
// count and that each product's entry agrees with its item.
func TestCatalogConcurrentUpdates(t *testing.T) {
	c := newCatalog(slog.New(slog.NewTextHandler(io.Discard, nil)))
	const n = 2000
	id := func(i int) string { return fmt.Sprintf("p%05d", i) }
	r := &Ranker{catalog: c}
	q := &query{filter: compileFilter(&omnirankv1.Filter{CategoryPrefix: []string{"even"}})}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r.admit(q, id(i%n))
			}
		}()
	}
	for round := range 3 {
		for i := range n {
			cat := "odd"
			if (i+round)%2 == 0 {
				cat = "even"
			}
			c.apply(id(i), false, productRecord(t, id(i), []string{cat}, 1, nil))
		}
	}
	for i := 0; i < n; i += 4 {
		c.apply(id(i), true, nil)
		c.apply(id(i), true, nil) // deleting twice counts once
	}
	close(stop)
	wg.Wait()
	if got, want := c.len(), n-n/4; got != want {
		t.Fatalf("len %d, want %d", got, want)
	}
	for i := range n {
		e, ok := c.lookup(id(i))
		if ok != (i%4 != 0) {
			t.Fatalf("%s present %v", id(i), ok)
		}
		// The last round (round 2) put "even" on even i.
		if ok && (e.it.Category[0] == "even") != (i%2 == 0) || ok && r.admit(q, id(i)) != (i%2 == 0) {
			t.Fatalf("%s: entry %+v", id(i), e)
		}
	}
}
