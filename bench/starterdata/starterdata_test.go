package starterdata

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/ranker/index"
)

// TestGenerate encodes a small dataset twice and checks that it is
// deterministic, unit-norm, of the starter space's dimension, that text-only
// queries have no image block, and that Load caches and reloads it.
func TestGenerate(t *testing.T) {
	ctx := context.Background()
	cfg := Config{N: 500, Queries: 40, Seed: 7, Batch: 192}
	a, err := Generate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantDim := starter.TextDim + starter.ImageDim + starter.AudioDim
	if a.Dim != wantDim || a.N() != cfg.N || a.NQ() != cfg.Queries {
		t.Fatalf("dim %d n %d queries %d, want %d %d %d", a.Dim, a.N(), a.NQ(), wantDim, cfg.N, cfg.Queries)
	}
	// ONNX Runtime may group the inputs into batches differently from one
	// run to the next, which moves the last bits of a float; the products
	// and their encoding are otherwise fixed.
	if d := maxDiff(a.Base, b.Base); d > 1e-5 {
		t.Fatalf("two generations with the same config differ by %v in a base component", d)
	}
	if d := maxDiff(a.Queries, b.Queries); d > 1e-5 {
		t.Fatalf("two generations with the same config differ by %v in a query component", d)
	}
	imgLo, imgHi := starter.TextDim, starter.TextDim+starter.ImageDim
	blockNorm := func(v []float32, lo, hi int) float64 {
		var s float64
		for _, x := range v[lo:hi] {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s)
	}
	check := func(kind string, i int, v []float32, textOnly bool) {
		if n := blockNorm(v, 0, len(v)); math.Abs(n-1) > 1e-4 {
			t.Fatalf("%s %d: norm %v", kind, i, n)
		}
		if a := blockNorm(v, imgHi, len(v)); a != 0 {
			t.Fatalf("%s %d: audio block norm %v, want 0 (no product has audio)", kind, i, a)
		}
		// Text and image blocks have weight 1 each: equal norms, or no
		// image at all for a text-only query.
		tn, in := blockNorm(v, 0, imgLo), blockNorm(v, imgLo, imgHi)
		if textOnly && in != 0 || !textOnly && math.Abs(tn-in) > 1e-4 {
			t.Fatalf("%s %d: text block norm %v, image %v (text only %v)", kind, i, tn, in, textOnly)
		}
	}
	for i := range a.N() {
		check("base", i, a.Row(i), false)
	}
	for i := range a.NQ() {
		check("query", i, a.Query(i), i%2 == 1)
	}
	// Different products get different vectors.
	distinct := map[string]bool{}
	for i := range a.N() {
		distinct[string(float32Bytes(a.Row(i)))] = true
	}
	if len(distinct) != a.N() {
		t.Fatalf("%d distinct vectors among %d products", len(distinct), a.N())
	}
	// A held-out product's nearest base product shares words with it.
	ex := index.NewFlat(a.Dim)
	for i := range a.N() {
		if err := ex.Upsert(NewProduct(cfg.Seed, i).Title(), a.Row(i)); err != nil {
			t.Fatal(err)
		}
	}
	hits, err := ex.Search(ctx, a.Query(1), index.SearchOptions{K: 1})
	if err != nil {
		t.Fatal(err)
	}
	q := NewProduct(cfg.Seed, cfg.N+1).Query()
	shared := 0
	for _, w := range strings.Fields(q) {
		if strings.Contains(hits[0].ID, w) {
			shared++
		}
	}
	if shared < 2 {
		t.Fatalf("query %q: nearest product %q shares %d words", q, hits[0].ID, shared)
	}

	cfg.CacheDir = t.TempDir()
	c, err := Load(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.CacheDir, "*.f32"))
	if len(files) != 1 || maxDiff(c.Base, a.Base) > 1e-5 || maxDiff(c.Queries, a.Queries) > 1e-5 {
		t.Fatalf("Load wrote %v and returned a different dataset", files)
	}
	// A second Load reads the cache: damage a vector and see it come back.
	f, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0, 0, 0x80, 0x3f}, 20); err != nil { // Base[0] = 1.0
		t.Fatal(err)
	}
	f.Close()
	d, err := Load(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Base[0] != 1 || !slices.Equal(d.Base[1:], c.Base[1:]) || !slices.Equal(d.Queries, c.Queries) {
		t.Fatalf("second Load did not return the cache file's vectors (Base[0] = %v)", d.Base[0])
	}
	if cfg.Name() != "starter-500-seed7" || (Config{N: 100000, Seed: 1}).Name() != "starter-100k-seed1" {
		t.Fatalf("names %q, %q", cfg.Name(), Config{N: 100000, Seed: 1}.Name())
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		u := math.Float32bits(x)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}
