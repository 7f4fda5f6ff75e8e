package ranker_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
)

// hybridFixture is a 300-product catalogue whose titles draw on a small
// vocabulary (so that lexical queries match many products with varied
// BM25 scores), served by a hybrid ranker and by a vector-only one.
type hybridFixture struct {
	e        *env
	ps       []*product
	m        map[string]*product
	hyb, vec *served
	txt      *tableEncoder
}

var (
	hybridAdjectives = []string{"oak", "steel", "linen", "walnut", "glass", "wool", "leather"}
	hybridNouns      = []string{"table", "chair", "lamp", "shelf", "runner", "jacket", "boot", "mug", "rug", "desk", "stool"}
)

func newHybridFixture(t *testing.T) *hybridFixture {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(21, 300, 6)
	for i, p := range ps {
		p.title = fmt.Sprintf("%s %s", hybridAdjectives[i%len(hybridAdjectives)], hybridNouns[(i/3)%len(hybridNouns)])
		if i%5 == 0 {
			p.description = fmt.Sprintf("a %s %s for every home", hybridNouns[i%len(hybridNouns)], hybridAdjectives[(i/2)%len(hybridAdjectives)])
		}
	}
	// The rare brand word of one product.
	ps[42].title, ps[42].brand = "Zyntrax trail runner", "Zyntrax"
	e.load(testSpace, ps)
	enc, txt, img := newTestEncoders()
	rng := rand.New(rand.NewPCG(4, 4))
	img.set("jpeg-bytes", randVec(rng, 8))
	for _, q := range []string{"oak table", "walnut desk", "leather boot", "steel"} {
		txt.set(q, randVec(rng, 16))
	}
	// A poor dense vector for the brand query: opposite to the product's
	// own text vector.
	poor := slices.Clone(ps[42].parts["text"])
	for i := range poor {
		poor[i] = -poor[i]
	}
	txt.set("zyntrax", poor)
	f := &hybridFixture{e: e, ps: ps, m: byID(ps), txt: txt,
		hyb: e.serve(enc), vec: e.serve(enc, ranker.WithoutLexical())}
	f.hyb.waitReady(t, "")
	f.vec.waitReady(t, "")
	return f
}

func weight(w float32) *float32 { return &w }

func (f *hybridFixture) recommend(t *testing.T, srv *served, req *omnirankv1.RecommendRequest) *omnirankv1.RecommendResponse {
	t.Helper()
	res, err := srv.rank.Recommend(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// lexicalRef is the lexical-only ranking of text over the products keep
// admits.
func (f *hybridFixture) lexicalRef(t *testing.T, text string, k int, keep func(*product) bool) ([]string, map[string]float64) {
	t.Helper()
	hits, err := f.hyb.r.LexicalHits(t.Context(), testSpace.Name, text, k, func(id string) bool {
		return keep == nil || keep(f.m[id])
	})
	if err != nil {
		t.Fatal(err)
	}
	scores := map[string]float64{}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i], scores[h.ID] = h.ID, h.Score
	}
	return out, scores
}

func TestHybridWeightExtremes(t *testing.T) {
	f := newHybridFixture(t)
	clothing := &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}}
	isClothing := func(p *product) bool { return p.category[0] == "clothing" }
	cases := []struct {
		name string
		req  *omnirankv1.RecommendRequest
		keep func(*product) bool // the filter, for the lexical reference
	}{
		{"text", &omnirankv1.RecommendRequest{QueryText: "oak table"}, nil},
		{"text k=40", &omnirankv1.RecommendRequest{QueryText: "walnut desk", K: 40}, nil},
		{"text and image", &omnirankv1.RecommendRequest{QueryText: "leather boot", QueryImage: []byte("jpeg-bytes")}, nil},
		{"filtered", &omnirankv1.RecommendRequest{QueryText: "oak table", K: 20, Filter: clothing}, isClothing},
		{"excluded", &omnirankv1.RecommendRequest{QueryText: "steel", Filter: &omnirankv1.Filter{ExcludeIds: []string{f.ps[1].id, f.ps[8].id}}},
			func(p *product) bool { return p.id != f.ps[1].id && p.id != f.ps[8].id }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := max(int(c.req.K), ranker.DefaultK)
			// lexical_weight 0: exactly the vector-only ranker's answer.
			zero := proto.Clone(c.req).(*omnirankv1.RecommendRequest)
			zero.LexicalWeight = weight(0)
			got := ids(f.recommend(t, f.hyb, zero))
			want := ids(f.recommend(t, f.vec, c.req))
			if len(want) != k || !slices.Equal(got, want) {
				t.Errorf("weight 0: %v\nvector-only: %v", got, want)
			}
			// lexical_weight 1: exactly the lexical index's ranking.
			one := proto.Clone(c.req).(*omnirankv1.RecommendRequest)
			one.LexicalWeight = weight(1)
			got = ids(f.recommend(t, f.hyb, one))
			ref, _ := f.lexicalRef(t, c.req.QueryText, k, c.keep)
			if len(ref) != k || !slices.Equal(got, ref) {
				t.Errorf("weight 1: %v\nlexical-only: %v", got, ref)
			}
			// In between, both lists count: the answer is neither.
			mid := ids(f.recommend(t, f.hyb, c.req))
			if slices.Equal(mid, want) || slices.Equal(mid, ref) {
				t.Errorf("default weight: %v equals one of the lists", mid)
			}
			if c.keep != nil {
				for _, id := range append(got, mid...) {
					if !c.keep(f.m[id]) {
						t.Errorf("%s breaks the filter", id)
					}
				}
			}
		})
	}
}

// contributions maps a result's contribution names to values.
func contributions(r *omnirankv1.ScoredProduct) map[string]float32 {
	m := map[string]float32{}
	for _, c := range r.Contributions {
		m[c.Name] = c.Value
	}
	return m
}

// TestHybridRRF checks every result's fused score against reciprocal-rank
// fusion of its lexical rank (from the lexical index) and a vector rank
// consistent with the vector scores.
func TestHybridRRF(t *testing.T) {
	f := newHybridFixture(t)
	for _, w := range []float32{0.5, 0.2, 0.8} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			res := f.recommend(t, f.hyb, &omnirankv1.RecommendRequest{QueryText: "oak table", K: 20, Explain: true, LexicalWeight: weight(w)})
			ref, bm25 := f.lexicalRef(t, "oak table", 64, nil) // the pool of a 20-result page
			type vr struct {
				id           string
				rank, vscore float64
			}
			var vranks []vr
			prev := float32(math.Inf(1))
			for _, r := range res.Results {
				c := contributions(r)
				if r.Score > prev {
					t.Errorf("%s: score %v above the previous %v", r.Id, r.Score, prev)
				}
				prev = r.Score
				if !approx(c["fusion:vector"]+c["fusion:lexical"], r.Score) {
					t.Errorf("%s: fusion parts %v do not sum to %v", r.Id, c, r.Score)
				}
				lr := slices.Index(ref, r.Id)
				var wantL float32
				if lr >= 0 {
					wantL = 61 * w / float32(60+lr+1)
				}
				if !approx(c["fusion:lexical"], wantL) || !approx(c["lexical:bm25"], float32(bm25[r.Id])) {
					t.Errorf("%s: lexical part %v bm25 %v, want %v (rank %d) and %v", r.Id, c["fusion:lexical"], c["lexical:bm25"], wantL, lr+1, bm25[r.Id])
				}
				rank := 61*float64(1-w)/float64(c["fusion:vector"]) - 60
				if math.Abs(rank-math.Round(rank)) > 0.05 || rank < 0.5 {
					t.Errorf("%s: vector part %v is no RRF rank (%v)", r.Id, c["fusion:vector"], rank)
				}
				var vscore float64
				for name, v := range c {
					if strings.HasPrefix(name, "modality:") || strings.HasPrefix(name, "feature:") {
						vscore += float64(v)
					}
				}
				vranks = append(vranks, vr{r.Id, math.Round(rank), vscore})
			}
			// A better vector rank means a higher vector score.
			slices.SortFunc(vranks, func(a, b vr) int { return int(a.rank - b.rank) })
			for i := 1; i < len(vranks); i++ {
				if vranks[i].rank == vranks[i-1].rank {
					t.Errorf("%s and %s share vector rank %v", vranks[i].id, vranks[i-1].id, vranks[i].rank)
				}
				if vranks[i].vscore > vranks[i-1].vscore+1e-5 {
					t.Errorf("%s (vector rank %v) scores %v above %s (rank %v, %v)", vranks[i].id, vranks[i].rank, vranks[i].vscore, vranks[i-1].id, vranks[i-1].rank, vranks[i-1].vscore)
				}
			}
		})
	}
}

func TestHybridNormalized(t *testing.T) {
	f := newHybridFixture(t)
	const w = 0.4
	res := f.recommend(t, f.hyb, &omnirankv1.RecommendRequest{QueryText: "walnut desk", K: 15, Explain: true,
		LexicalWeight: weight(w), Fusion: omnirankv1.Fusion_FUSION_NORMALIZED})
	_, bm25 := f.lexicalRef(t, "walnut desk", 64, nil)
	best := 0.0
	for _, s := range bm25 {
		best = max(best, s)
	}
	if len(res.Results) != 15 {
		t.Fatalf("%d results", len(res.Results))
	}
	for _, r := range res.Results {
		c := contributions(r)
		if !approx(c["fusion:vector"]+c["fusion:lexical"], r.Score) {
			t.Errorf("%s: fusion parts %v do not sum to %v", r.Id, c, r.Score)
		}
		if c["fusion:vector"] < 0 || c["fusion:vector"] > 1-w+1e-6 || c["fusion:lexical"] < 0 || c["fusion:lexical"] > w+1e-6 {
			t.Errorf("%s: parts out of range: %v", r.Id, c)
		}
		if bm25[r.Id] == best && !approx(c["fusion:lexical"], w) {
			t.Errorf("%s: best BM25 normalises to %v, want %v", r.Id, c["fusion:lexical"]/w, 1)
		}
		if _, ok := bm25[r.Id]; !ok && c["fusion:lexical"] != 0 {
			t.Errorf("%s: not found lexically but lexical part %v", r.Id, c["fusion:lexical"])
		}
	}
}

// TestHybridRareBrand: a product titled with a rare brand word comes first
// for that word in hybrid mode although its dense vector is the worst.
func TestHybridRareBrand(t *testing.T) {
	f := newHybridFixture(t)
	brand := f.ps[42].id
	vec := ids(f.recommend(t, f.vec, &omnirankv1.RecommendRequest{QueryText: "zyntrax", K: 100}))
	if slices.Contains(vec, brand) {
		t.Fatalf("vector-only ranks %s in its top 100: the dense vector is not poor", brand)
	}
	for _, fusion := range []omnirankv1.Fusion{omnirankv1.Fusion_FUSION_RRF} {
		res := f.recommend(t, f.hyb, &omnirankv1.RecommendRequest{QueryText: "zyntrax", Fusion: fusion, Explain: true})
		if got := ids(res); len(got) == 0 || got[0] != brand {
			t.Fatalf("%v: %v, want %s first", fusion, got, brand)
		}
		if c := contributions(res.Results[0]); c["lexical:bm25"] <= 0 {
			t.Errorf("no lexical:bm25 contribution: %v", c)
		}
	}
}

// TestHybridPages: pages of a hybrid ranking continue one fused list (of
// lists cut at the first page's window) without repeats or gaps.
func TestHybridPages(t *testing.T) {
	f := newHybridFixture(t)
	for _, mmr := range []float32{0, 0.5} {
		req := &omnirankv1.RecommendRequest{QueryText: "oak table", K: 7, MmrLambda: mmr,
			Filter: &omnirankv1.Filter{CategoryPrefix: []string{"home"}}}
		var walked []string
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			res := f.recommend(t, f.hyb, req)
			walked = append(walked, ids(res)...)
			if res.NextPageToken == "" {
				break
			}
			req.PageToken = res.NextPageToken
		}
		seen := map[string]bool{}
		for _, id := range walked {
			if seen[id] {
				t.Fatalf("mmr %v: %s repeated in %v", mmr, id, walked)
			}
			seen[id] = true
			if f.m[id].category[0] != "home" {
				t.Errorf("%s breaks the filter", id)
			}
		}
		// The fused list's best 64 (the pool of the first page).
		if len(walked) != 64 {
			t.Errorf("mmr %v: walked %d results, want the 64-candidate pool", mmr, len(walked))
		}
		// A request whose first page has the same window (3·21 < 64)
		// ranks the same list.
		one := f.recommend(t, f.hyb, &omnirankv1.RecommendRequest{QueryText: "oak table", K: 21, MmrLambda: mmr,
			Filter: &omnirankv1.Filter{CategoryPrefix: []string{"home"}}})
		if !slices.Equal(ids(one), walked[:21]) {
			t.Errorf("mmr %v: pages %v\none request %v", mmr, walked[:21], ids(one))
		}
	}
}

func TestHybridValidation(t *testing.T) {
	f := newHybridFixture(t)
	for _, req := range []*omnirankv1.RecommendRequest{
		{QueryText: "oak table", LexicalWeight: weight(-0.1)},
		{QueryText: "oak table", LexicalWeight: weight(1.5)},
		{QueryText: "oak table", LexicalWeight: weight(float32(math.NaN()))},
		{QueryText: "oak table", Fusion: omnirankv1.Fusion(7)},
	} {
		if _, err := f.hyb.rank.Recommend(t.Context(), req); err == nil || !strings.Contains(err.Error(), "InvalidArgument") {
			t.Errorf("%v: %v, want InvalidArgument", req, err)
		}
	}
}

// TestLexicalFollowsCatalogue: updates and deletes of product records
// reach the lexical index.
func TestLexicalFollowsCatalogue(t *testing.T) {
	f := newHybridFixture(t)
	for _, q := range []string{"quokka", "wombat"} {
		f.txt.set(q, f.ps[7].parts["text"])
	}
	lexOnly := func(q string) []string {
		return ids(f.recommend(t, f.hyb, &omnirankv1.RecommendRequest{QueryText: q, LexicalWeight: weight(1)}))
	}
	p := f.ps[7]
	p.title = "Quokka lamp"
	f.e.putProduct(p)
	eventually(t, "quokka indexed", func() bool { return slices.Equal(lexOnly("quokka"), []string{p.id}) })
	p.title = "Wombat lamp"
	f.e.putProduct(p)
	eventually(t, "title updated", func() bool {
		return len(lexOnly("quokka")) == 0 && slices.Equal(lexOnly("wombat"), []string{p.id})
	})
	f.e.deleteProduct(p.id)
	eventually(t, "product deleted", func() bool { return len(lexOnly("wombat")) == 0 })
	if st := f.hyb.r.Stats(); st.LexicalDocs != len(f.ps)-1 || !st.LexicalReady {
		t.Errorf("stats: %d lexical docs (ready %v), want %d", st.LexicalDocs, st.LexicalReady, len(f.ps)-1)
	}
}

// TestLexicalAfterSnapshotRestore: a ranker started from a snapshot
// answers lexical and hybrid queries as the one that wrote it did.
func TestLexicalAfterSnapshotRestore(t *testing.T) {
	f := newHybridFixture(t)
	st := newBucket(t)
	enc, txt, _ := newTestEncoders()
	txt.set("oak table", f.txt.table["oak table"])
	txt.set("zyntrax", f.txt.table["zyntrax"])
	reqs := []*omnirankv1.RecommendRequest{
		{QueryText: "oak table", LexicalWeight: weight(1), K: 30},
		{QueryText: "oak table", K: 30},
		{QueryText: "oak table", K: 10, Fusion: omnirankv1.Fusion_FUSION_NORMALIZED, Filter: &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}}},
	}
	first := f.e.serve(enc, snapOpts(st, flatIndex())...)
	first.waitReady(t, "")
	var before [][]string
	for _, req := range reqs {
		before = append(before, ids(f.recommend(t, first, req)))
	}
	if err := first.r.Close(); err != nil {
		t.Fatal(err)
	}
	restored := f.e.serve(enc, snapOpts(st, flatIndex())...)
	restored.waitReady(t, "")
	if s := spaceStats(restored.r, testSpace.Name); s.SnapshotLoaded == "" {
		t.Fatalf("no snapshot loaded: %+v", s)
	}
	for i, req := range reqs {
		if got := ids(f.recommend(t, restored, req)); len(got) == 0 || !slices.Equal(got, before[i]) {
			t.Errorf("request %d: restored %v, before %v", i, got, before[i])
		}
	}
}
