package index

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func newIndexes(t *testing.T, dim int) map[string]Index {
	t.Helper()
	h, err := NewHNSW(dim, WithEfConstruction(64))
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewHNSW(dim, WithEfConstruction(64), WithQuantization(QuantInt8))
	if err != nil {
		t.Fatal(err)
	}
	qo, err := NewHNSW(dim, WithEfConstruction(64), WithQuantization(QuantInt8Only))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Index{"hnsw": h, "hnsw-int8": q, "hnsw-int8-only": qo, "flat": NewFlat(dim)}
}

// getTolerance is how far, per component, ix's Get may return from the
// vector v it stored: 0 except for QuantInt8Only, which keeps codes only.
func getTolerance(ix Index, v []float32) float32 {
	if h, ok := ix.(*HNSW); !ok || h.Quantization().hasFloats() {
		return 0
	}
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	return m/254 + 1e-7
}

// closeTo reports whether a and b have equal length and differ by at most
// tol in every component.
func closeTo(a, b []float32, tol float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

func unit(dim int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, dim)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
	return v
}

func TestOptionValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		dim  int
		opts []Option
		ok   bool
	}{
		{"defaults", 8, nil, true},
		{"all valid", 8, []Option{WithM(8), WithEfConstruction(50), WithQuantization(QuantInt8), WithSeed(9), WithCapacity(100), WithAutoCompact(0)}, true},
		{"dim zero", 0, nil, false},
		{"dim negative", -3, nil, false},
		{"M too small", 8, []Option{WithM(1)}, false},
		{"M too large", 8, []Option{WithM(1000)}, false},
		{"ef zero", 8, []Option{WithEfConstruction(0)}, false},
		{"ef huge", 8, []Option{WithEfConstruction(1 << 20)}, false},
		{"bad quantization", 8, []Option{WithQuantization(Quantization(7))}, false},
		{"negative capacity", 8, []Option{WithCapacity(-1)}, false},
		{"NaN compact ratio", 8, []Option{WithAutoCompact(math.NaN())}, false},
		{"nil option", 8, []Option{nil}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHNSW(tc.dim, tc.opts...)
			if tc.ok {
				if err != nil || h == nil {
					t.Fatalf("NewHNSW: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("NewHNSW error %v, want ErrInvalidOption", err)
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want Quantization
		ok   bool
	}{{"none", QuantNone, true}, {"int8", QuantInt8, true}, {"int8-only", QuantInt8Only, true}, {"fp16", 0, false}} {
		q, err := ParseQuantization(tc.in)
		if tc.ok != (err == nil) || (tc.ok && (q != tc.want || q.String() != tc.in)) {
			t.Fatalf("ParseQuantization(%q) = %v, %v", tc.in, q, err)
		}
	}
}

func TestInvalidInput(t *testing.T) {
	const dim = 8
	good := unit(dim, 1)
	nan := append([]float32(nil), good...)
	nan[3] = float32(math.NaN())
	inf := append([]float32(nil), good...)
	inf[0] = float32(math.Inf(1))
	for name, ix := range newIndexes(t, dim) {
		if err := ix.Upsert("seed", good); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			id   string
			vec  []float32
			want error
		}{
			{"short", "a", good[:dim-1], ErrDimension},
			{"long", "a", append(good, 0), ErrDimension},
			{"nil", "a", nil, ErrDimension},
			{"NaN", "a", nan, ErrInvalidVector},
			{"Inf", "a", inf, ErrInvalidVector},
			{"empty id", "", good, ErrInvalidVector},
		} {
			t.Run(name+"/upsert/"+tc.name, func(t *testing.T) {
				if err := ix.Upsert(tc.id, tc.vec); !errors.Is(err, tc.want) {
					t.Fatalf("Upsert error %v, want %v", err, tc.want)
				}
				if ix.Len() != 1 {
					t.Fatalf("Len %d after a rejected upsert", ix.Len())
				}
			})
		}
		for _, tc := range []struct {
			name string
			q    []float32
			opts SearchOptions
			want error
		}{
			{"short query", good[:2], SearchOptions{K: 1}, ErrDimension},
			{"NaN query", nan, SearchOptions{K: 1}, ErrInvalidVector},
			{"K zero", good, SearchOptions{K: 0}, ErrInvalidOption},
			{"negative ef", good, SearchOptions{K: 1, Ef: -1}, ErrInvalidOption},
			{"selectivity above 1", good, SearchOptions{K: 1, Selectivity: 2}, ErrInvalidOption},
		} {
			t.Run(name+"/search/"+tc.name, func(t *testing.T) {
				if _, err := ix.Search(context.Background(), tc.q, tc.opts); !errors.Is(err, tc.want) {
					t.Fatalf("Search error %v, want %v", err, tc.want)
				}
			})
		}
		t.Run(name+"/cancelled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := ix.Search(ctx, good, SearchOptions{K: 1}); !errors.Is(err, context.Canceled) {
				t.Fatalf("Search error %v, want context.Canceled", err)
			}
		})
	}
	if err := NewFlat(0).Upsert("a", nil); !errors.Is(err, ErrDimension) {
		t.Fatalf("NewFlat(0).Upsert error %v, want ErrDimension", err)
	}
}

func TestReplaceAndDelete(t *testing.T) {
	const dim, n = 16, 300
	for name, ix := range newIndexes(t, dim) {
		t.Run(name, func(t *testing.T) {
			if hits := search(t, ix, unit(dim, 1), SearchOptions{K: 3}); len(hits) != 0 {
				t.Fatalf("empty index returned %v", hits)
			}
			for i := range n {
				if err := ix.Upsert(idOf(i), unit(dim, uint64(i))); err != nil {
					t.Fatal(err)
				}
			}
			// Replace: the id moves to the new vector and appears once.
			fresh := unit(dim, 99999)
			if err := ix.Upsert(idOf(7), fresh); err != nil {
				t.Fatal(err)
			}
			if ix.Len() != n {
				t.Fatalf("Len %d after replace, want %d", ix.Len(), n)
			}
			got, ok := ix.Get(idOf(7))
			tol := getTolerance(ix, fresh)
			if !ok || !closeTo(got, fresh, tol) {
				t.Fatalf("Get after replace = %v, %v; want %v ± %v", got, ok, fresh, tol)
			}
			got[0] = 42 // Get returns a copy
			if again, _ := ix.Get(idOf(7)); again[0] == 42 {
				t.Fatal("Get returned the stored slice, not a copy")
			}
			hits := search(t, ix, fresh, SearchOptions{K: 5})
			checkHits(t, hits, SearchOptions{K: 5})
			if hits[0].ID != idOf(7) || math.Abs(float64(hits[0].Score)-1) > 1e-5+float64(tol)*4 {
				t.Fatalf("search for the replacement vector: %v", hits)
			}
			old := search(t, ix, unit(dim, 7), SearchOptions{K: 5})
			for _, h := range old {
				if h.ID == idOf(7) && h.Score > 0.99 {
					t.Fatalf("old vector of a replaced id still served: %v", old)
				}
			}
			// Delete.
			if !ix.Delete(idOf(7)) || ix.Delete(idOf(7)) || ix.Delete("nope") {
				t.Fatal("Delete reports wrong presence")
			}
			if _, ok := ix.Get(idOf(7)); ok {
				t.Fatal("Get finds a deleted id")
			}
			if ix.Len() != n-1 {
				t.Fatalf("Len %d after delete, want %d", ix.Len(), n-1)
			}
			for _, q := range [][]float32{fresh, unit(dim, 7)} {
				for _, h := range search(t, ix, q, SearchOptions{K: 10}) {
					if h.ID == idOf(7) {
						t.Fatal("deleted id returned")
					}
				}
			}
			// K above Len returns everything that is live.
			all := search(t, ix, fresh, SearchOptions{K: 10 * n, Ef: 10 * n})
			if len(all) != n-1 {
				t.Fatalf("K > Len returned %d hits, want %d", len(all), n-1)
			}
			// Re-inserting a deleted id brings it back.
			if err := ix.Upsert(idOf(7), fresh); err != nil {
				t.Fatal(err)
			}
			if hits := search(t, ix, fresh, SearchOptions{K: 1}); hits[0].ID != idOf(7) {
				t.Fatalf("re-inserted id not found: %v", hits)
			}
		})
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCompact deletes a third of the graph, compacts, and checks that recall
// on the survivors holds and that the tombstones are gone.
func TestCompact(t *testing.T) {
	d := dataset(t, scaled(6000, 6), 50, 32, 21)
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"manual", []Option{WithAutoCompact(0)}},
		{"auto", []Option{WithAutoCompact(0.2)}},
		{"manual/int8", []Option{WithAutoCompact(0), WithQuantization(QuantInt8)}},
		{"manual/int8-only", []Option{WithAutoCompact(0), WithQuantization(QuantInt8Only)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := buildHNSW(t, d, runtime.GOMAXPROCS(0), append(tc.opts, WithEfConstruction(64))...)
			exact := buildFlat(t, d)
			for i := 0; i < d.N(); i += 3 {
				h.Delete(idOf(i))
				exact.Delete(idOf(i))
			}
			if tc.name != "auto" && h.Tombstones() != (d.N()+2)/3 {
				t.Fatalf("tombstones %d, want %d", h.Tombstones(), (d.N()+2)/3)
			}
			before := recall(t, h, exact, d, SearchOptions{K: 10})
			h.Compact()
			st := h.Stats()
			if st.Tombstones != 0 || st.Nodes != exact.Len() || h.Len() != exact.Len() {
				t.Fatalf("after Compact: %+v, want %d live nodes", st, exact.Len())
			}
			after := recall(t, h, exact, d, SearchOptions{K: 10})
			t.Logf("recall@10 with tombstones %.4f, after compaction %.4f", before, after)
			if before < 0.95 || after < 0.95 {
				t.Fatalf("recall %.4f before / %.4f after compaction < 0.95", before, after)
			}
			for i := range 10 {
				v, ok := h.Get(idOf(3*i + 1))
				if !ok || !closeTo(v, d.Row(3*i+1), getTolerance(h, d.Row(3*i+1))) {
					t.Fatalf("vector of %s lost in compaction", idOf(3*i+1))
				}
			}
			// The compacted graph keeps accepting inserts.
			if err := h.Upsert(idOf(0), d.Row(0)); err != nil {
				t.Fatal(err)
			}
			if hits := search(t, h, d.Row(0), SearchOptions{K: 1}); hits[0].ID != idOf(0) {
				t.Fatalf("insert after compaction not found: %v", hits)
			}
		})
	}
}

// TestConcurrent runs upserts, replacements, deletes and searches at once;
// under -race it proves the lock-free reads are properly synchronised.
func TestConcurrent(t *testing.T) {
	d := dataset(t, scaled(4000, 4), 64, 32, 5)
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"float", []Option{WithAutoCompact(0.1)}},
		{"int8", []Option{WithQuantization(QuantInt8)}},
		{"int8-only", []Option{WithQuantization(QuantInt8Only)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewHNSW(d.Dim, append(tc.opts, WithEfConstruction(48), WithM(8))...)
			if err != nil {
				t.Fatal(err)
			}
			half := d.N() / 2
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			var searches atomic.Int64
			errc := make(chan error, 16)
			// Writers: insert the second half, replace and delete in the first.
			for w := range 2 {
				wg.Go(func() {
					for i := w; i < d.N(); i += 2 {
						if err := h.Upsert(idOf(i), d.Row(i)); err != nil {
							errc <- err
							return
						}
						if i < half && i%4 == 0 {
							h.Delete(idOf(i))
						}
						if i < half && i%4 == 1 {
							if err := h.Upsert(idOf(i), d.Row(i)); err != nil {
								errc <- err
								return
							}
						}
					}
				})
			}
			// Readers search (some filtered) until the writers finish.
			var readers sync.WaitGroup
			for r := range 2 {
				readers.Go(func() {
					odd := func(id string) bool { return id[len(id)-1]%2 == 1 }
					for i := r; ctx.Err() == nil; i++ {
						opts := SearchOptions{K: 5}
						if i%3 == 0 {
							opts.Filter = odd
						}
						hits, err := h.Search(ctx, d.Query(i%d.NQ()), opts)
						if err != nil && !errors.Is(err, context.Canceled) {
							errc <- err
							return
						}
						if err == nil && len(hits) > 0 {
							searches.Add(1)
							checkHits(t, hits, opts)
						}
						h.Get(idOf(i % d.N()))
						h.Len()
					}
				})
			}
			wg.Wait()
			cancel()
			readers.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			if searches.Load() == 0 {
				t.Fatal("no search returned hits while writing")
			}
			want := d.N() - (half+3)/4
			if h.Len() != want {
				t.Fatalf("Len %d, want %d", h.Len(), want)
			}
			exact := NewFlat(d.Dim)
			for i := range d.N() {
				if i >= half || i%4 != 0 {
					if err := exact.Upsert(idOf(i), d.Row(i)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if r := recall(t, h, exact, d, SearchOptions{K: 10}); r < 0.95 {
				t.Fatalf("recall after concurrent build %.4f < 0.95", r)
			}
		})
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	d := dataset(t, scaled(3000, 3), 40, 24, 8)
	flat := buildFlat(t, d)
	tomb := buildHNSW(t, d, 2, WithAutoCompact(0), WithEfConstruction(64))
	for i := 0; i < d.N(); i += 10 {
		tomb.Delete(idOf(i))
	}
	empty, _ := NewHNSW(d.Dim)
	for _, tc := range []struct {
		name string
		ix   Index
	}{
		{"hnsw", buildHNSW(t, d, 2, WithEfConstruction(64))},
		{"hnsw-int8", buildHNSW(t, d, 2, WithQuantization(QuantInt8), WithEfConstruction(64))},
		{"hnsw-int8-only", buildHNSW(t, d, 2, WithQuantization(QuantInt8Only), WithEfConstruction(64))},
		{"hnsw-tombstones", tomb},
		{"hnsw-empty", empty},
		{"flat", flat},
		{"flat-empty", NewFlat(5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.ix.Save(&buf); err != nil {
				t.Fatal(err)
			}
			snap := buf.Bytes()
			// Only QuantInt8Only needs the version 2 layout; everything
			// else stays readable by binaries that know version 1 only.
			wantVer := byte(snapVersion)
			if h, ok := tc.ix.(*HNSW); ok && h.Quantization() == QuantInt8Only {
				wantVer = snapVersion2
			}
			if snap[8] != wantVer {
				t.Fatalf("snapshot version %d, want %d", snap[8], wantVer)
			}
			got, err := Load(bytes.NewReader(snap))
			if err != nil {
				t.Fatal(err)
			}
			if got.Len() != tc.ix.Len() || got.Dim() != tc.ix.Dim() {
				t.Fatalf("Len/Dim %d/%d, want %d/%d", got.Len(), got.Dim(), tc.ix.Len(), tc.ix.Dim())
			}
			if tc.ix.Len() > 0 {
				for i := range d.NQ() {
					for _, opts := range []SearchOptions{{K: 10}, {K: 3, Ef: 20}} {
						a := search(t, tc.ix, d.Query(i), opts)
						b := search(t, got, d.Query(i), opts)
						if len(a) != len(b) {
							t.Fatalf("query %d: %d hits after load, %d before", i, len(b), len(a))
						}
						for j := range a {
							if a[j] != b[j] {
								t.Fatalf("query %d hit %d: %v after load, %v before", i, j, b[j], a[j])
							}
						}
					}
				}
				v1, ok1 := tc.ix.Get(idOf(1))
				v2, ok2 := got.Get(idOf(1))
				if ok1 != ok2 || !slicesEqual(v1, v2) {
					t.Fatal("Get differs after load")
				}
			}
			// Saving the loaded index reproduces the snapshot byte for byte.
			var again bytes.Buffer
			if err := got.Save(&again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), snap) {
				t.Fatal("re-saved snapshot differs")
			}
			// The loaded index stays writable.
			if err := got.Upsert("new", unit(got.Dim(), 77)); err != nil {
				t.Fatal(err)
			}
			if hits := search(t, got, unit(got.Dim(), 77), SearchOptions{K: 1}); hits[0].ID != "new" {
				t.Fatalf("upsert after load not found: %v", hits)
			}
		})
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	d := dataset(t, 500, 0, 16, 9)
	for _, tc := range []struct {
		name string
		ix   Index
	}{
		{"hnsw", buildHNSW(t, d, 1, WithEfConstruction(32))},
		{"hnsw-int8-only", buildHNSW(t, d, 1, WithEfConstruction(32), WithQuantization(QuantInt8Only))},
		{"flat", buildFlat(t, d)},
	} {
		var buf bytes.Buffer
		if err := tc.ix.Save(&buf); err != nil {
			t.Fatal(err)
		}
		snap := buf.Bytes()
		const headerLen = 8 + 4 + 4 + 8*headerFields + 4
		mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), snap...)) }
		for _, c := range []struct {
			name string
			data []byte
		}{
			{"empty", nil},
			{"magic only", snap[:8]},
			{"header cut", snap[:headerLen-1]},
			{"header only", snap[:headerLen]},
			{"body cut", snap[:len(snap)/2]},
			{"checksum cut", snap[:len(snap)-1]},
			{"foreign", []byte("this is not an index snapshot at all, just text....................................................................................................")},
			{"magic flipped", mutate(func(b []byte) []byte { b[0] ^= 1; return b })},
			{"version", mutate(func(b []byte) []byte { b[8] = 9; return b })},
			{"header field flipped", mutate(func(b []byte) []byte { b[20] ^= 0x10; return b })},
			{"body byte flipped", mutate(func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b })},
			{"last vector byte flipped", mutate(func(b []byte) []byte { b[len(b)-5] ^= 1; return b })},
			{"checksum flipped", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b })},
		} {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				ix, err := Load(bytes.NewReader(c.data))
				if !errors.Is(err, ErrCorrupt) || ix != nil {
					t.Fatalf("Load = %v, %v; want ErrCorrupt", ix, err)
				}
			})
		}
	}
}

func TestStats(t *testing.T) {
	const dim = 384
	d := dataset(t, scaled(2000, 4), 0, dim, 4)
	for _, tc := range []struct {
		name  string
		quant Quantization
		limit float64
	}{
		{"float", QuantNone, 1.3},
		{"int8", QuantInt8, 1.3 + float64(dim+4)/(4*dim)},
		{"int8-only", QuantInt8Only, 0.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := buildHNSW(t, d, runtime.GOMAXPROCS(0), WithQuantization(tc.quant), WithEfConstruction(32))
			st := h.Stats()
			raw := float64(4 * dim)
			t.Logf("%+v; %.1f bytes/vector = %.3f × raw", st, st.BytesPerVector, st.BytesPerVector/raw)
			wantVec, wantQuant := int64(d.N()*dim*4), int64(0)
			if tc.quant.hasCodes() {
				wantQuant = int64(d.N() * (dim + 4))
			}
			if !tc.quant.hasFloats() {
				wantVec = 0
			}
			if st.Live != d.N() || st.VectorBytes != wantVec || st.QuantBytes != wantQuant {
				t.Fatalf("stats %+v", st)
			}
			floor := float64(wantVec+wantQuant) / float64(d.N())
			if st.BytesPerVector <= floor || st.BytesPerVector > tc.limit*raw {
				t.Fatalf("%.1f bytes/vector, want in (%v, %v]", st.BytesPerVector, floor, tc.limit*raw)
			}
		})
	}
	fs := buildFlat(t, d).Stats()
	if fs.Live != d.N() || fs.BytesPerVector <= float64(4*dim) {
		t.Fatalf("flat stats %+v", fs)
	}
}

// TestSnapshotV1 loads version 1 snapshots written by the code before
// version 2 existed (testdata/v1-*.snap: 300 vectors of GenerateDataset
// {Dim 16, Seed 42}, M 8, efConstruction 32, one worker, idOf(5) deleted)
// and checks that they answer as the index that wrote them would and are
// written back unchanged.
func TestSnapshotV1(t *testing.T) {
	d := dataset(t, 300, 0, 16, 42)
	for _, tc := range []struct {
		file  string
		quant Quantization
	}{{"testdata/v1-hnsw.snap", QuantNone}, {"testdata/v1-hnsw-int8.snap", QuantInt8}} {
		t.Run(tc.file, func(t *testing.T) {
			snap, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			ix, err := Load(bytes.NewReader(snap))
			if err != nil {
				t.Fatal(err)
			}
			h := ix.(*HNSW)
			if h.Len() != 299 || h.Quantization() != tc.quant || h.M() != 8 || h.Tombstones() != 1 {
				t.Fatalf("loaded Len %d quant %v M %d tombstones %d", h.Len(), h.Quantization(), h.M(), h.Tombstones())
			}
			if _, ok := h.Get(idOf(5)); ok {
				t.Fatal("deleted id came back")
			}
			for i := 0; i < d.N(); i += 7 {
				if i == 5 {
					continue
				}
				v, ok := h.Get(idOf(i))
				if !ok || !slicesEqual(v, d.Row(i)) {
					t.Fatalf("Get(%s) differs from the vector saved", idOf(i))
				}
				if hits := search(t, h, d.Row(i), SearchOptions{K: 1}); hits[0].ID != idOf(i) {
					t.Fatalf("search for %s: %v", idOf(i), hits)
				}
			}
			var again bytes.Buffer
			if err := h.Save(&again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), snap) {
				t.Fatal("re-saved version 1 snapshot differs")
			}
		})
	}
}
