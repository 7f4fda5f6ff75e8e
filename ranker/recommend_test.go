package ranker_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/spaces"
)

// cosineOnly scores by cosine alone, so results can be checked against
// brute force exactly.
var cosineOnly = ranker.WithScorer(ranker.LinearScorer{Cosine: 1})

// retrievalFixture is one catalogue of 300 products in 6 clusters served
// by a ranker with a cosine-only scorer (exact brute-force comparisons) and
// one with the default scorer.
type retrievalFixture struct {
	e           *env
	ps          []*product
	m           map[string]*product
	plain, dflt *served
	qt, qi      []float32
}

func newRetrievalFixture(t *testing.T) *retrievalFixture {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(1, 300, 6)
	e.load(testSpace, ps)
	enc, txt, img := newTestEncoders()
	rng := rand.New(rand.NewPCG(9, 9))
	f := &retrievalFixture{e: e, ps: ps, m: byID(ps), qt: randVec(rng, 16), qi: randVec(rng, 8)}
	txt.set("red shoes", f.qt)
	img.set("jpeg-bytes", f.qi)
	// Vector-only rankings (brute-force comparisons): hybrid retrieval is
	// tested in hybrid_test.go.
	f.plain = e.serve(enc, cosineOnly, ranker.WithLexicalWeight(0))
	f.dflt = e.serve(enc, ranker.WithLexicalWeight(0))
	f.plain.waitReady(t, "")
	f.dflt.waitReady(t, "")
	return f
}

func (f *retrievalFixture) join(t *testing.T, parts map[string][]float32) []float32 {
	t.Helper()
	v, _, err := testSpace.Join(parts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mix(terms ...any) []float32 {
	var out []float32
	for i := 0; i < len(terms); i += 2 {
		w := terms[i].(float32)
		v := terms[i+1].([]float32)
		if out == nil {
			out = make([]float32, len(v))
		}
		for j := range v {
			out[j] += w * v[j]
		}
	}
	return normalized(out)
}

func meanOf(vs ...[]float32) []float32 {
	out := make([]float32, len(vs[0]))
	for _, v := range vs {
		for j := range v {
			out[j] += v[j] / float32(len(vs))
		}
	}
	return out
}

func TestRetrieval(t *testing.T) {
	f := newRetrievalFixture(t)
	ctx := t.Context()
	j := func(id string) []float32 { return f.m[id].joint }
	textQ := f.join(t, map[string][]float32{"text": f.qt})

	t.Run("nearest matches brute force", func(t *testing.T) {
		cases := []struct {
			name    string
			req     *omnirankv1.RecommendRequest
			q       []float32
			exclude []string
		}{
			{"text", &omnirankv1.RecommendRequest{QueryText: "red shoes"}, textQ, nil},
			{"image", &omnirankv1.RecommendRequest{QueryImage: []byte("jpeg-bytes"), K: 20}, f.join(t, map[string][]float32{"image": f.qi}), nil},
			{"text and image", &omnirankv1.RecommendRequest{QueryText: "red shoes", QueryImage: []byte("jpeg-bytes")},
				f.join(t, map[string][]float32{"text": f.qt, "image": f.qi}), nil},
			{"one positive", &omnirankv1.RecommendRequest{PositiveIds: []string{"p005"}}, normalized(j("p005")), []string{"p005"}},
			{"two positives", &omnirankv1.RecommendRequest{PositiveIds: []string{"p005", "p011"}},
				normalized(meanOf(j("p005"), j("p011"))), []string{"p005", "p011"}},
			{"positive and negative", &omnirankv1.RecommendRequest{PositiveIds: []string{"p005"}, NegativeIds: []string{"p017"}},
				mix(float32(1), j("p005"), float32(-0.5), j("p017")), []string{"p005", "p017"}},
			{"text and positive", &omnirankv1.RecommendRequest{QueryText: "red shoes", PositiveIds: []string{"p002"}},
				mix(float32(1), textQ, float32(1), j("p002")), []string{"p002"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res, err := f.plain.rank.Recommend(ctx, c.req)
				if err != nil {
					t.Fatal(err)
				}
				k := max(int(c.req.K), ranker.DefaultK)
				want := bruteForce(c.q, f.ps, func(p *product) bool { return !slices.Contains(c.exclude, p.id) })[:k]
				if got := ids(res); !slices.Equal(got, want) {
					t.Fatalf("results\n got %v\nwant %v", got, want)
				}
				for _, r := range res.Results {
					if w := dot(c.q, j(r.Id)); !approx(r.Score, w) {
						t.Errorf("%s: score %v, brute force %v", r.Id, r.Score, w)
					}
				}
			})
		}
	})

	t.Run("positives and negatives move results", func(t *testing.T) {
		base, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes"})
		if err != nil {
			t.Fatal(err)
		}
		// A positive from another cluster pulls its cluster in; a negative
		// on the top result pushes its neighbours out.
		top := f.m[base.Results[0].Id]
		var other *product
		for _, p := range f.ps {
			if p.cluster != top.cluster {
				other = p
				break
			}
		}
		pos, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", PositiveIds: []string{other.id}})
		if err != nil {
			t.Fatal(err)
		}
		countCluster := func(res *omnirankv1.RecommendResponse, c int) int {
			n := 0
			for _, r := range res.Results {
				if f.m[r.Id].cluster == c {
					n++
				}
			}
			return n
		}
		if a, b := countCluster(base, other.cluster), countCluster(pos, other.cluster); b <= a {
			t.Errorf("positive from cluster %d: %d results there before, %d after", other.cluster, a, b)
		}
		neg, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", NegativeIds: []string{top.id}})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids(neg), top.id) {
			t.Errorf("negative %s returned", top.id)
		}
		if a, b := countCluster(base, top.cluster), countCluster(neg, top.cluster); b >= a {
			t.Errorf("negative from cluster %d: %d results there before, %d after", top.cluster, a, b)
		}
	})

	t.Run("best-score strategy", func(t *testing.T) {
		pos := []string{"p001", "p002"}
		neg := []string{"p003"}
		res, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{PositiveIds: pos, NegativeIds: neg, K: 30,
			Strategy: omnirankv1.Strategy_STRATEGY_BEST_SCORE, Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) == 0 {
			t.Fatal("no results")
		}
		for i, r := range res.Results {
			c := j(r.Id)
			want := max(dot(j("p001"), c), dot(j("p002"), c)) - dot(j("p003"), c)
			if !approx(r.Score, want) {
				t.Errorf("%s: score %v, want best positive minus best negative %v", r.Id, r.Score, want)
			}
			if i > 0 && r.Score > res.Results[i-1].Score {
				t.Errorf("results not sorted at %d", i)
			}
			var sum float32
			for _, ct := range r.Contributions {
				sum += ct.Value
			}
			if !approx(sum, r.Score) {
				t.Errorf("%s: contributions sum to %v, score %v", r.Id, sum, r.Score)
			}
		}
	})

	t.Run("filters are exact", func(t *testing.T) {
		top3 := bruteForce(textQ, f.ps, nil)[:3]
		cases := []struct {
			name   string
			filter *omnirankv1.Filter
			keep   func(*product) bool
		}{
			{"category root", &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}},
				func(p *product) bool { return p.category[0] == "clothing" }},
			{"category path", &omnirankv1.Filter{CategoryPrefix: []string{"clothing", "shoes"}},
				func(p *product) bool { return slices.Equal(p.category, []string{"clothing", "shoes"}) }},
			{"category deeper than products", &omnirankv1.Filter{CategoryPrefix: []string{"home", "kitchen", "knives"}},
				func(p *product) bool { return false }},
			{"price range", &omnirankv1.Filter{Price: &omnirankv1.PriceRange{Min: 20, Max: 40}},
				func(p *product) bool { return p.price >= 20 && p.price <= 40 }},
			{"price floor", &omnirankv1.Filter{Price: &omnirankv1.PriceRange{Min: 90}},
				func(p *product) bool { return p.price >= 90 }},
			{"attribute", &omnirankv1.Filter{Attributes: map[string]string{"color": "red"}},
				func(p *product) bool { return p.attrs["color"] == "red" }},
			{"absent attribute value", &omnirankv1.Filter{Attributes: map[string]string{"color": "purple"}},
				func(p *product) bool { return false }},
			{"exclusions", &omnirankv1.Filter{ExcludeIds: top3},
				func(p *product) bool { return !slices.Contains(top3, p.id) }},
			{"combined", &omnirankv1.Filter{CategoryPrefix: []string{"home"}, Price: &omnirankv1.PriceRange{Max: 50},
				Attributes: map[string]string{"color": "blue"}, ExcludeIds: top3},
				func(p *product) bool {
					return p.category[0] == "home" && p.price <= 50 && p.attrs["color"] == "blue" && !slices.Contains(top3, p.id)
				}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				// Every matching product, so that the filter's boundaries
				// are checked, not only the nearest.
				res, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", Filter: c.filter, K: 300})
				if err != nil {
					t.Fatal(err)
				}
				want := bruteForce(textQ, f.ps, c.keep)
				if got := ids(res); !slices.Equal(got, want) {
					t.Fatalf("results\n got %v\nwant %v", got, want)
				}
			})
		}
	})

	t.Run("explanations", func(t *testing.T) {
		q := f.join(t, map[string][]float32{"text": f.qt, "image": f.qi})
		res, err := f.dflt.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", QueryImage: []byte("jpeg-bytes"), Explain: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Space != testSpace.Name || res.Models["text"] != "test-text@1" || res.Models["image"] != "test-image@1" {
			t.Errorf("space %q models %v", res.Space, res.Models)
		}
		if len(res.Results) != ranker.DefaultK {
			t.Fatalf("%d results", len(res.Results))
		}
		for _, r := range res.Results {
			p := f.m[r.Id]
			got := map[string]float32{}
			var modal, total float32
			for _, c := range r.Contributions {
				got[c.Name] = c.Value
				total += c.Value
				if strings.HasPrefix(c.Name, "modality:") {
					modal += c.Value
				}
			}
			for _, name := range []string{"modality:text", "modality:image", "feature:cooccurrence", "feature:popularity", "feature:freshness"} {
				if _, ok := got[name]; !ok {
					t.Errorf("%s: no %s contribution in %v", r.Id, name, got)
				}
			}
			if want := dot(q, p.joint); !approx(modal, want) {
				t.Errorf("%s: modality contributions sum to %v, cosine is %v", r.Id, modal, want)
			}
			split := testSpace.BlockDots(q, p.joint)
			if !approx(got["modality:text"], split["text"]) || !approx(got["modality:image"], split["image"]) {
				t.Errorf("%s: modality parts %v, block dots %v", r.Id, got, split)
			}
			if !approx(total, r.Score) {
				t.Errorf("%s: contributions sum to %v, score %v", r.Id, total, r.Score)
			}
			age := baseTime.Sub(p.uploaded)
			if want := float32(0.02 * math.Exp2(-age.Hours()/(30*24))); !approx(got["feature:freshness"], want) {
				t.Errorf("%s: freshness %v, want %v", r.Id, got["feature:freshness"], want)
			}
			if got["feature:popularity"] != 0 || got["feature:cooccurrence"] != 0 {
				t.Errorf("%s: popularity/co-occurrence without feedback: %v", r.Id, got)
			}
			if r.Title != "title "+r.Id || r.Currency != "EUR" || r.Price != p.price || !slices.Equal(r.Category, p.category) || len(r.Media) != 1 {
				t.Errorf("%s: metadata %+v", r.Id, r)
			}
		}
		plain, err := f.dflt.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", QueryImage: []byte("jpeg-bytes")})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range plain.Results {
			if len(r.Contributions) != 0 {
				t.Fatalf("contributions without explain: %v", r.Contributions)
			}
		}
	})

	t.Run("pagination has no overlaps or gaps", func(t *testing.T) {
		for _, srv := range []*served{f.plain, f.dflt} {
			req := &omnirankv1.RecommendRequest{QueryText: "red shoes", K: 7, Filter: &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}}}
			var walked []string
			seen := map[string]bool{}
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("pagination does not end")
				}
				res, err := srv.rank.Recommend(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range ids(res) {
					if seen[id] {
						t.Fatalf("page %d repeats %s", pages, id)
					}
					seen[id] = true
				}
				walked = append(walked, ids(res)...)
				if res.NextPageToken == "" {
					break
				}
				if len(res.Results) != 7 {
					t.Fatalf("page %d has %d results but a next token", pages, len(res.Results))
				}
				req.PageToken = res.NextPageToken
			}
			all, err := srv.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", K: 1000,
				Filter: &omnirankv1.Filter{CategoryPrefix: []string{"clothing"}}})
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(textQ, f.ps, func(p *product) bool { return p.category[0] == "clothing" })
			if len(walked) != len(want) || !slices.Equal(walked, ids(all)) {
				t.Fatalf("walked %d ids, one page of all has %d, catalogue has %d matching", len(walked), len(all.Results), len(want))
			}
		}
	})

	t.Run("cold start is newest first without feedback", func(t *testing.T) {
		res, err := f.dflt.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: "nobody", MmrLambda: 1, K: 20})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]string, 20)
		for i := range want {
			want[i] = f.ps[i].id // p000 is the newest
		}
		if got := ids(res); !slices.Equal(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
		filtered, err := f.dflt.rank.Recommend(ctx, &omnirankv1.RecommendRequest{Filter: &omnirankv1.Filter{CategoryPrefix: []string{"home"}}, K: 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(filtered.Results) != 20 {
			t.Fatalf("%d results", len(filtered.Results))
		}
		for _, r := range filtered.Results {
			if f.m[r.Id].category[0] != "home" {
				t.Errorf("%s outside the filter", r.Id)
			}
		}
	})

	t.Run("bad requests get the right code", func(t *testing.T) {
		first, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "red shoes", K: 5})
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			req  *omnirankv1.RecommendRequest
			code codes.Code
			msg  string
		}{
			{"k too large", &omnirankv1.RecommendRequest{QueryText: "red shoes", K: 1001}, codes.InvalidArgument, "k = 1001"},
			{"empty query", &omnirankv1.RecommendRequest{}, codes.InvalidArgument, "empty query"},
			{"empty filter is no query", &omnirankv1.RecommendRequest{Filter: &omnirankv1.Filter{}}, codes.InvalidArgument, "empty query"},
			{"oversize image", &omnirankv1.RecommendRequest{QueryImage: make([]byte, 16<<20+1)}, codes.ResourceExhausted, "query image"},
			{"oversize audio", &omnirankv1.RecommendRequest{QueryAudio: make([]byte, 16<<20+1)}, codes.ResourceExhausted, "query audio"},
			{"unknown positive", &omnirankv1.RecommendRequest{PositiveIds: []string{"p001", "nope1"}}, codes.NotFound, "nope1"},
			{"unknown negative", &omnirankv1.RecommendRequest{QueryText: "red shoes", NegativeIds: []string{"nope2", "nope3"}}, codes.NotFound, "nope2, nope3"},
			{"unknown space", &omnirankv1.RecommendRequest{QueryText: "red shoes", Space: "nope"}, codes.NotFound, "nope"},
			{"encoder rejects input", &omnirankv1.RecommendRequest{QueryText: "not in the table"}, codes.InvalidArgument, "bad input"},
			{"no block for the modality", &omnirankv1.RecommendRequest{QueryAudio: []byte("RIFF")}, codes.InvalidArgument, "no audio block"},
			{"mmr lambda out of range", &omnirankv1.RecommendRequest{QueryText: "red shoes", MmrLambda: 1.5}, codes.InvalidArgument, "mmr_lambda"},
			{"unknown strategy", &omnirankv1.RecommendRequest{QueryText: "red shoes", Strategy: 7}, codes.InvalidArgument, "strategy"},
			{"price min above max", &omnirankv1.RecommendRequest{QueryText: "red shoes", Filter: &omnirankv1.Filter{Price: &omnirankv1.PriceRange{Min: 50, Max: 10}}}, codes.InvalidArgument, "price"},
			{"negative price", &omnirankv1.RecommendRequest{Filter: &omnirankv1.Filter{Price: &omnirankv1.PriceRange{Min: -1}}}, codes.InvalidArgument, "price"},
			{"empty positive id", &omnirankv1.RecommendRequest{PositiveIds: []string{""}}, codes.InvalidArgument, "product id"},
			{"malformed page token", &omnirankv1.RecommendRequest{QueryText: "red shoes", K: 5, PageToken: "!!"}, codes.InvalidArgument, "page token"},
			{"page token of another query", &omnirankv1.RecommendRequest{QueryText: "red shoes", K: 6, PageToken: first.NextPageToken}, codes.InvalidArgument, "another request"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.plain.rank.Recommend(ctx, c.req)
				st, _ := status.FromError(err)
				if st.Code() != c.code || !strings.Contains(st.Message(), c.msg) {
					t.Fatalf("got %v %q, want %v containing %q", st.Code(), st.Message(), c.code, c.msg)
				}
			})
		}
		t.Run("invalid UTF-8 text", func(t *testing.T) {
			// The Go gRPC client refuses to marshal invalid UTF-8 in a
			// string field, so call the service in-process.
			_, err := f.plain.r.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "caf\xe9"})
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("deadline", func(t *testing.T) {
			dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := f.plain.rank.Recommend(dctx, &omnirankv1.RecommendRequest{QueryText: "block"})
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("k defaults to 10 and an unknown user is a cold start", func(t *testing.T) {
			res, err := f.plain.rank.Recommend(ctx, &omnirankv1.RecommendRequest{UserId: "stranger", K: 0})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Results) != ranker.DefaultK {
				t.Fatalf("%d results", len(res.Results))
			}
		})
	})
}

// TestMMRReducesNearDuplicates: six near-copies sit closest to the query;
// with MMR the top 10 holds fewer of them.
func TestMMRReducesNearDuplicates(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	rng := rand.New(rand.NewPCG(3, 4))
	qd := randVec(rng, 16)
	dupImage := randVec(rng, 8)
	var ps []*product
	for i := range 40 {
		p := &product{id: "m" + string(rune('a'+i/26)) + string(rune('a'+i%26)), category: []string{"x"}, uploaded: baseTime, parts: map[string][]float32{}}
		noise := float32(0.6)
		img := randVec(rng, 8)
		if i < 6 {
			noise, img = 0.03, slices.Clone(dupImage)
		}
		txt := randVec(rng, 16)
		for j := range txt {
			txt[j] = qd[j] + noise*txt[j]
		}
		p.parts["text"], p.parts["image"] = txt, img
		ps = append(ps, p)
	}
	e.load(testSpace, ps)
	enc, txt, _ := newTestEncoders()
	txt.set("query", qd)
	s := e.serve(enc)
	s.waitReady(t, "")
	m := byID(ps)
	dupPairs := func(res *omnirankv1.RecommendResponse) int {
		n := 0
		for i, a := range res.Results {
			for _, b := range res.Results[i+1:] {
				if dot(m[a.Id].joint, m[b.Id].joint) > 0.95 {
					n++
				}
			}
		}
		return n
	}
	plain, err := s.rank.Recommend(t.Context(), &omnirankv1.RecommendRequest{QueryText: "query"})
	if err != nil {
		t.Fatal(err)
	}
	div, err := s.rank.Recommend(t.Context(), &omnirankv1.RecommendRequest{QueryText: "query", MmrLambda: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	a, b := dupPairs(plain), dupPairs(div)
	if a == 0 {
		t.Fatalf("fixture: no near-duplicates in the plain top 10: %v", ids(plain))
	}
	if b >= a {
		t.Fatalf("near-duplicate pairs: %d without MMR, %d with", a, b)
	}
	if len(div.Results) != len(plain.Results) {
		t.Fatalf("MMR changed the page size: %d vs %d", len(div.Results), len(plain.Results))
	}
}

// TestEmbeddingUpdates: tombstones remove products, a newer revision
// replaces the vector, an older one is ignored, and a catalogue delete
// hides a product.
func TestEmbeddingUpdates(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(5, 60, 3)
	e.load(testSpace, ps)
	enc, txt, _ := newTestEncoders()
	rng := rand.New(rand.NewPCG(5, 5))
	qt := randVec(rng, 16)
	txt.set("q", qt)
	s := e.serve(enc, cosineOnly)
	s.waitReady(t, "")
	ctx := t.Context()
	if st := spaceStats(s.r, "s1"); st.Vectors != 60 || st.Applied != 60 || !st.Ready || !st.Active || st.Dim != 24 {
		t.Fatalf("stats %+v", st)
	}
	query := func() []string {
		res, err := s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "q", K: 60})
		if err != nil {
			t.Fatal(err)
		}
		return ids(res)
	}
	before := query()

	// Tombstone the top result.
	e.publishTombstone(testSpace, before[0], 2)
	eventually(t, "tombstone applied", func() bool { return spaceStats(s.r, "s1").Deleted == 1 })
	after := query()
	if slices.Contains(after, before[0]) || !slices.Equal(after, before[1:]) {
		t.Fatalf("after tombstone of %s:\n%v\nbefore:\n%v", before[0], after, before)
	}
	if st := spaceStats(s.r, "s1"); st.Vectors != 59 {
		t.Fatalf("vectors %d after a tombstone", st.Vectors)
	}

	// A newer revision pointing at the query moves the last product first.
	last := after[len(after)-1]
	e.publishEmb(testSpace, last, 5, map[string][]float32{"text": qt})
	eventually(t, "new revision applied", func() bool { return spaceStats(s.r, "s1").Applied == 61 })
	if got := query(); got[0] != last {
		t.Fatalf("newer revision of %s: top is %s", last, got[0])
	}

	// An older revision is ignored.
	e.publishEmb(testSpace, last, 4, ps[0].parts)
	eventually(t, "old revision seen", func() bool { return spaceStats(s.r, "s1").Ignored == 1 })
	if got := query(); got[0] != last {
		t.Fatalf("older revision of %s replaced the newer one: top is %s", last, got[0])
	}

	// An older tombstone is ignored too; the product stays.
	e.publishTombstone(testSpace, last, 3)
	eventually(t, "old tombstone seen", func() bool { return spaceStats(s.r, "s1").Ignored == 2 })
	if got := query(); got[0] != last {
		t.Fatalf("older tombstone removed %s", last)
	}

	// A product deleted from the catalogue is no longer returned.
	e.deleteProduct(last)
	eventually(t, "catalogue delete", func() bool { return !slices.Contains(query(), last) })
	if st := s.r.Stats(); st.Products != 59 {
		t.Fatalf("catalogue holds %d products", st.Products)
	}

	// A restarted ranker replays the stream to the same state.
	s2 := e.serve(enc, cosineOnly)
	s2.waitReady(t, "")
	res, err := s2.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "q", K: 60})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(res); !slices.Equal(got, query()) {
		t.Fatalf("replayed ranker differs:\n%v\n%v", got, query())
	}
}

// TestSpacesAndAlias: a space created at run time is followed, and moving
// the active alias changes the default space.
func TestSpacesAndAlias(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(2, 20, 2)
	e.load(testSpace, ps)
	s := e.serve(nil)
	s.waitReady(t, "")
	ctx := t.Context()
	if s.r.Ready("s2") {
		t.Fatal("unknown space reported ready")
	}
	s2 := spaces.Space{Name: "s2", Blocks: []spaces.Block{{Modality: "text", Model: "test-text@1", Dim: 16, Weight: 1}}}
	e.putSpace(s2, false)
	for _, p := range ps[:10] {
		e.publishEmb(s2, p.id, 1, map[string][]float32{"text": p.parts["text"]})
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.r.WaitReady(rctx, "s2"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "s2 filled", func() bool { return spaceStats(s.r, "s2").Vectors == 10 })

	req := &omnirankv1.RecommendRequest{PositiveIds: []string{"p001"}, K: 50}
	res, err := s.rank.Recommend(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Space != "s1" || len(res.Results) != 19 {
		t.Fatalf("space %s, %d results", res.Space, len(res.Results))
	}
	// A first page taken on s1 keeps paginating on s1 after the alias moves.
	pageReq := &omnirankv1.RecommendRequest{PositiveIds: []string{"p001"}, K: 5}
	page1, err := s.rank.Recommend(ctx, pageReq)
	if err != nil {
		t.Fatal(err)
	}

	_, rev, err := e.store.Active(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetActive(ctx, "s2", rev); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alias moved", func() bool {
		res, err := s.rank.Recommend(ctx, req)
		return err == nil && res.Space == "s2"
	})
	res, err = s.rank.Recommend(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 9 || res.Models["text"] != "test-text@1" || len(res.Models) != 1 {
		t.Fatalf("s2 answer: %d results, models %v", len(res.Results), res.Models)
	}
	pageReq.PageToken = page1.NextPageToken
	page2, err := s.rank.Recommend(ctx, pageReq)
	if err != nil {
		t.Fatal(err)
	}
	if page2.Space != "s1" {
		t.Fatalf("second page answered by %s", page2.Space)
	}
	// Products only in s1 are unknown in s2.
	_, err = s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{PositiveIds: []string{"p015"}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("positive absent from the active space: %v", err)
	}
	// A ranker restricted to s1 never follows s2.
	only := e.serve(nil, ranker.WithSpaces("s1"))
	only.waitReady(t, "s1")
	if st := only.r.Stats(); len(st.Spaces) != 1 || st.Spaces[0].Name != "s1" || st.Active != "s2" || only.r.Ready("") {
		t.Fatalf("restricted ranker stats %+v", st)
	}
	// Text queries without encoders are refused clearly.
	_, err = s.rank.Recommend(ctx, &omnirankv1.RecommendRequest{QueryText: "hello"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("text query without encoders: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		opt  ranker.Option
	}{
		{"nil logger", ranker.WithLogger(nil)},
		{"nil scorer", ranker.WithScorer(nil)},
		{"nil index factory", ranker.WithIndexFactory(nil)},
		{"no spaces", ranker.WithSpaces()},
		{"history size", ranker.WithHistorySize(0)},
		{"co-occurrence", ranker.WithCooccurrenceTopN(-1)},
		{"media size", ranker.WithMaxMediaBytes(0)},
		{"candidates", ranker.WithMaxCandidates(10)},
		{"lambda", ranker.WithColdStartLambda(0)},
		{"half-life", ranker.WithProfileHalfLife(0)},
		{"session", ranker.WithSessionWindow(-time.Second)},
		{"negative weight", ranker.WithQueryWeights(ranker.QueryWeights{Negative: -1})},
		{"nil clock", ranker.WithClock(nil)},
		{"in flight", ranker.WithMaxInFlight(0)},
		{"queue wait", ranker.WithQueueWait(-time.Millisecond)},
		{"nil metrics", ranker.WithMetrics(nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ranker.New(e.js, nil, c.opt); !errors.Is(err, ranker.ErrInvalidOption) {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := ranker.New(nil, nil); !errors.Is(err, ranker.ErrInvalidOption) {
		t.Fatalf("nil JetStream: %v", err)
	}
	r, err := ranker.New(e.js, nil, ranker.WithLogger(testLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Recommend(t.Context(), &omnirankv1.RecommendRequest{QueryText: "x"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("before Start: %v", err)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, ranker.ErrClosed) {
		t.Fatalf("second Start: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(t.Context()); !errors.Is(err, ranker.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

// TestBlocksRestrictQuery: a request naming blocks ranks by those blocks'
// similarity alone (the others' parts are 0), exactly as a brute force
// over the image part of the joint vectors; an unknown block is refused.
func TestBlocksRestrictQuery(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(16, 80, 4)
	e.load(testSpace, ps)
	s := e.serve(nil, cosineOnly)
	s.waitReady(t, "")
	a := ps[5]
	res, err := s.rank.Recommend(t.Context(), &omnirankv1.RecommendRequest{PositiveIds: []string{a.id}, Blocks: []string{"image"}, K: 10, Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Results {
		for _, c := range r.Contributions {
			if c.Name == "modality:text" && c.Value != 0 {
				t.Fatalf("%s: text part %v with blocks [image]", r.Id, c.Value)
			}
		}
	}
	imageOnly := func(v []float32) []float32 {
		out := slices.Clone(v)
		clear(out[:16])
		return out
	}
	q := normalized(imageOnly(a.joint))
	want := bruteForce(q, ps, func(p *product) bool { return p.id != a.id })[:10]
	if got := ids(res); !slices.Equal(got, want) {
		t.Fatalf("image-only ranking\n got %v\nwant %v", got, want)
	}
	all, err := s.rank.Recommend(t.Context(), &omnirankv1.RecommendRequest{PositiveIds: []string{a.id}, K: 10})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(ids(all), want) {
		t.Fatalf("all blocks rank as the image block alone: %v", want)
	}
	_, err = s.rank.Recommend(t.Context(), &omnirankv1.RecommendRequest{PositiveIds: []string{a.id}, Blocks: []string{"smell"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("unknown block: %v", err)
	}
}
