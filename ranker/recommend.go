package ranker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/omnirank/omnirank/extractors"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/spaces"
)

// Request limits.
const (
	// DefaultK is the page size when a request sets none.
	DefaultK = 10
	// MaxK is the largest page size.
	MaxK = 1000
	// maxExamples bounds positive and negative ids per request.
	maxExamples = 1000
	// recentSeeds is how many of a user's recent items seed co-occurrence.
	recentSeeds = 20
	// selectivitySample is how many catalogue items estimate a filter's
	// selectivity.
	selectivitySample = 1024
	// minPool is the fewest candidates a vector query ranks.
	minPool = 64
)

func afterShort() <-chan time.Time { return time.After(20 * time.Millisecond) }

// ctxStatus returns the status of a finished context, or nil.
func ctxStatus(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

// filterGiven reports whether the filter restricts anything.
func filterGiven(f *omnirankv1.Filter) bool {
	return f != nil && (len(f.GetCategoryPrefix()) > 0 || f.GetPrice().GetMin() != 0 || f.GetPrice().GetMax() != 0 ||
		len(f.GetAttributes()) > 0 || len(f.GetExcludeIds()) > 0)
}

func validateFilter(f *omnirankv1.Filter) error {
	if f == nil {
		return nil
	}
	lo, hi := f.GetPrice().GetMin(), f.GetPrice().GetMax()
	for _, x := range []float64{lo, hi} {
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("price bounds must be finite and >= 0, got [%v, %v]", lo, hi)
		}
	}
	if lo > 0 && hi > 0 && lo > hi {
		return fmt.Errorf("price min %v is above max %v", lo, hi)
	}
	return nil
}

// itemFilter is a filter's catalogue predicate (exclusions apart),
// compiled once per request: the category prefix as an encoded key that
// prefixes the keys of every path below it, the price bounds and the
// attribute pairs.
type itemFilter struct {
	cat    string
	lo, hi float64
	attrs  [][2]string
}

func compileFilter(f *omnirankv1.Filter) *itemFilter {
	m := &itemFilter{cat: categoryKey(f.GetCategoryPrefix()), lo: f.GetPrice().GetMin(), hi: f.GetPrice().GetMax()}
	for k, v := range f.GetAttributes() {
		m.attrs = append(m.attrs, [2]string{k, v})
	}
	return m
}

// test applies the predicate to a product's category key, price and
// attributes.
func (m *itemFilter) test(cat string, price float64, it *Item) bool {
	if !strings.HasPrefix(cat, m.cat) {
		return false
	}
	if m.lo > 0 && price < m.lo {
		return false
	}
	if m.hi > 0 && price > m.hi {
		return false
	}
	for _, kv := range m.attrs {
		if got, ok := it.Attributes[kv[0]]; !ok || got != kv[1] {
			return false
		}
	}
	return true
}

// match applies the predicate to an item.
func (m *itemFilter) match(it *Item) bool { return m.test(it.catKey, it.Price, it) }

// validate checks the request's fields and returns the page size.
func (r *Ranker) validate(req *omnirankv1.RecommendRequest) (int, error) {
	k := int(req.GetK())
	switch {
	case k <= 0:
		k = DefaultK
	case k > MaxK:
		return 0, status.Errorf(codes.InvalidArgument, "k = %d: at most %d", k, MaxK)
	}
	if n := len(req.GetQueryImage()); n > r.cfg.maxMediaBytes {
		return 0, status.Errorf(codes.ResourceExhausted, "query image is %d bytes: at most %d", n, r.cfg.maxMediaBytes)
	}
	if n := len(req.GetQueryAudio()); n > r.cfg.maxMediaBytes {
		return 0, status.Errorf(codes.ResourceExhausted, "query audio is %d bytes: at most %d", n, r.cfg.maxMediaBytes)
	}
	if !utf8.ValidString(req.GetQueryText()) {
		return 0, status.Error(codes.InvalidArgument, "query text is not valid UTF-8")
	}
	if l := req.GetMmrLambda(); l < 0 || l > 1 || math.IsNaN(float64(l)) {
		return 0, status.Errorf(codes.InvalidArgument, "mmr_lambda = %v: want 0..1", l)
	}
	if _, ok := omnirankv1.Strategy_name[int32(req.GetStrategy())]; !ok {
		return 0, status.Errorf(codes.InvalidArgument, "unknown strategy %d", req.GetStrategy())
	}
	if n := len(req.GetPositiveIds()) + len(req.GetNegativeIds()); n > maxExamples {
		return 0, status.Errorf(codes.InvalidArgument, "%d example products: at most %d", n, maxExamples)
	}
	for _, ids := range [][]string{req.GetPositiveIds(), req.GetNegativeIds(), req.GetFilter().GetExcludeIds()} {
		for _, id := range ids {
			if id == "" || !utf8.ValidString(id) {
				return 0, status.Errorf(codes.InvalidArgument, "product id %q is empty or not valid UTF-8", id)
			}
		}
	}
	if !utf8.ValidString(req.GetUserId()) {
		return 0, status.Error(codes.InvalidArgument, "user_id is not valid UTF-8")
	}
	if err := validateHybrid(req); err != nil {
		return 0, err
	}
	if err := r.validateAudioMode(req); err != nil {
		return 0, err
	}
	if err := validateFilter(req.GetFilter()); err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "filter: %v", err)
	}
	hasContent := req.GetQueryText() != "" || len(req.GetQueryImage()) > 0 || len(req.GetQueryAudio()) > 0
	if !hasContent && len(req.GetPositiveIds()) == 0 && len(req.GetNegativeIds()) == 0 && req.GetUserId() == "" && !filterGiven(req.GetFilter()) {
		return 0, status.Error(codes.InvalidArgument, "empty query: give text, image, audio, example products, a user or a filter")
	}
	return k, nil
}

// recommend answers a Recommend call (see Recommend).
func (r *Ranker) recommend(ctx context.Context, req *omnirankv1.RecommendRequest) (*omnirankv1.RecommendResponse, error) {
	if !r.started.Load() {
		return nil, status.Error(codes.Unavailable, "ranker not started")
	}
	if err := ctxStatus(ctx); err != nil {
		return nil, err
	}
	k, err := r.validate(req)
	if err != nil {
		return nil, err
	}
	release, err := r.gate.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	hash, err := requestHash(req)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	reqID := newRequestID()
	arm := r.cfg.experiment.arm(req.GetUserId(), reqID)
	offset, spaceName, window := 0, req.GetSpace(), 0
	if spaceName == "" && arm != nil {
		spaceName = arm.Space
	}
	if req.GetPageToken() != "" {
		t, err := decodeToken(req.GetPageToken(), hash)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		offset, spaceName, window = t.Offset, t.Space, t.Window
	}
	sp, err := r.space(spaceName)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	// Voice (issue 16): the clip's words join the query text. The page
	// token's hash is the original request's, so later pages transcribe
	// the same clip again and continue the same ranking.
	req, transcript, err := r.transcribeQuery(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := &omnirankv1.RecommendResponse{Space: sp.def.Name, Models: sp.def.Models(), RequestId: reqID, Transcript: transcript}
	if arm != nil {
		resp.Arm = arm.Name
	}
	if transcript != nil && transcript.GetText() == "" && req.GetQueryText() == "" && len(req.GetQueryAudio()) == 0 && len(req.GetQueryImage()) == 0 {
		// Spoken query with no words recognised and nothing else to
		// search by content: an empty answer with an empty transcript
		// ("didn't catch that"), not the cold-start list.
		return resp, nil
	}
	now := r.cfg.now()
	q, err := r.newQuery(ctx, sp, req, now)
	if err != nil {
		return nil, err
	}
	need := offset + k
	if arm != nil {
		if arm.scorer != nil {
			q.scorer = arm.scorer
		}
		r.fbMetrics.experiment.WithLabelValues(r.cfg.experiment.cfg.Name, arm.Name, "impression").Inc()
	}
	if need > r.cfg.maxPool {
		return resp, nil
	}
	// The pool MMR and the page draw from: three candidates per result
	// wanted, at least the index's default beam (64), so that the first two
	// pages of a default-size request rank the same pool. The filtered
	// graph walk's beam grows with the pool (K), so every candidate beyond
	// what MMR and the page use costs search work.
	pool := min(max(need*3, minPool), r.cfg.maxPool)
	// A hybrid ranking fuses two lists cut at the pool: a larger pool
	// would change fused scores of products already shown. Its pages all
	// fuse lists cut at the first page's pool (the window), as with
	// Elasticsearch's rank_window_size, and end with the fused list.
	lexW := r.lexicalMix(req, arm)
	hybrid := q.vec != nil && lexW > 0
	if hybrid && window > 0 {
		pool = window
	}
	// From here on the work is CPU-bound Go code: run at most one request
	// per P at once (see cpuGate).
	releaseCPU, err := r.cpu.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer releaseCPU()
	var cands []candidate
	lambda := req.GetMmrLambda()
	if lambda == 0 && arm != nil && arm.MMRLambda != nil {
		lambda = *arm.MMRLambda
	}
	switch {
	case q.vec == nil:
		cands = r.coldCandidates(sp, q, pool, now)
		if lambda == 0 {
			lambda = r.cfg.coldLambda
		}
		sortCandidates(cands)
	case hybrid:
		// Text with a lexical share: fused, already in order.
		cands, err = r.hybridCandidates(ctx, sp, q, req.GetQueryText(), lexW, req.GetFusion(), pool, now)
		if err != nil {
			return nil, err
		}
	default:
		cands, err = r.vectorCandidates(ctx, sp, q, pool, now)
		if err != nil {
			return nil, err
		}
		sortCandidates(cands)
	}
	cands = mmr(cands, lambda, need)
	if err := ctxStatus(ctx); err != nil {
		return nil, err
	}
	var page []candidate
	if offset < len(cands) {
		page = cands[offset:min(need, len(cands))]
		resp.Results = make([]*omnirankv1.ScoredProduct, 0, len(page))
		for _, c := range page {
			resp.Results = append(resp.Results, r.result(q.scorer, c, req.GetExplain()))
		}
	}
	if r.imp != nil && r.imp.sampled() {
		r.logImpression(req, resp, page, offset, now)
	}
	if len(cands) > need {
		t := pageToken{Offset: need, Space: sp.def.Name, Hash: hash}
		if hybrid {
			t.Window = pool
		}
		resp.NextPageToken = encodeToken(t)
	}
	return resp, nil
}

// query is a request resolved against a space.
type query struct {
	// scorer is the ranker's scorer when the request began: one request
	// scores every candidate with one scorer, even across a SetScorer.
	scorer Scorer
	// vec is the mixed query vector; nil when the request has none (a
	// filter only, or a user without usable history).
	vec []float32
	// best-score strategy: the positive and negative vectors.
	bestScore bool
	pos, neg  [][]float32
	accept    func(id string) bool
	match     func(*Item) bool
	// excluded holds the exclusions, positives, negatives and the user's
	// purchases; filter is the compiled catalogue predicate.
	excluded map[string]bool
	filter   *itemFilter
	// filterKey identifies the filter's catalogue predicate (exclusions
	// apart) for the selectivity cache; "" when it accepts everything.
	filterKey string
	// seeds are the positives and the user's recent items (co-occurrence);
	// session the positives and the items of the user's latest session
	// (next item).
	seeds   []string
	session []string
}

// newQuery resolves inputs, exclusions and seeds.
func (r *Ranker) newQuery(ctx context.Context, sp *spaceState, req *omnirankv1.RecommendRequest, now time.Time) (*query, error) {
	q := &query{bestScore: req.GetStrategy() == omnirankv1.Strategy_STRATEGY_BEST_SCORE, filter: compileFilter(req.GetFilter()), scorer: r.Scorer()}
	q.match = q.filter.match
	if f := req.GetFilter(); f != nil && (len(f.GetCategoryPrefix()) > 0 || f.GetPrice().GetMin() > 0 || f.GetPrice().GetMax() > 0 || len(f.GetAttributes()) > 0) {
		key := proto.Clone(f).(*omnirankv1.Filter)
		key.ExcludeIds = nil
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(key)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "filter key: %v", err)
		}
		q.filterKey = string(b)
	}
	excluded := map[string]bool{}
	for _, id := range req.GetFilter().GetExcludeIds() {
		excluded[id] = true
	}
	lookup := func(ids []string, missing *[]string) [][]float32 {
		out := make([][]float32, 0, len(ids))
		for _, id := range ids {
			excluded[id] = true
			v, ok := sp.vector(id)
			if !ok {
				*missing = append(*missing, id)
				continue
			}
			out = append(out, v)
		}
		return out
	}
	var missing []string
	posVecs := lookup(req.GetPositiveIds(), &missing)
	negVecs := lookup(req.GetNegativeIds(), &missing)
	if len(missing) > 0 {
		return nil, status.Errorf(codes.NotFound, "unknown products in space %s: %s", sp.def.Name, strings.Join(missing, ", "))
	}
	q.seeds = slices.Clone(req.GetPositiveIds())
	q.session = slices.Clone(req.GetPositiveIds())

	content, err := r.contentVector(ctx, sp.def, req)
	if err != nil {
		return nil, err
	}
	var profile []float32
	if uid := req.GetUserId(); uid != "" {
		if uv, ok := r.fb.user(uid); ok {
			for p := range uv.purchased {
				excluded[p] = true
			}
			q.seeds = append(q.seeds, uv.recent(recentSeeds)...)
			q.session = append(q.session, uv.session(r.cfg.sessionWindow, recentSeeds)...)
			profile = r.profile(sp, uv, now)
		}
	}
	w := r.cfg.weights
	mix := make([]float32, sp.def.Dim())
	inputs := 0
	add := func(v []float32, weight float32) {
		if v == nil {
			return
		}
		inputs++
		for i, x := range v {
			mix[i] += weight * x
		}
	}
	add(content, w.Content)
	add(mean(posVecs), w.Positive)
	add(mean(negVecs), -w.Negative)
	add(profile, w.User)
	mask, err := blockMask(sp.def, req.GetBlocks())
	if err != nil {
		return nil, err
	}
	if mask != nil {
		mask(mix)
		for _, vs := range [][][]float32{posVecs, negVecs} {
			for i, v := range vs {
				vs[i] = slices.Clone(v)
				mask(vs[i])
			}
		}
		for _, v := range []*[]float32{&content, &profile} {
			if *v != nil {
				*v = slices.Clone(*v)
				mask(*v)
			}
		}
	}
	if inputs > 0 {
		if n := l2(mix); n == 0 || math.IsNaN(n) {
			return nil, status.Error(codes.InvalidArgument, "the query's inputs cancel out to a zero vector")
		}
		spaces.Normalize(mix)
		q.vec = mix
	}
	if q.bestScore {
		for _, v := range [][]float32{content, profile} {
			if v != nil {
				q.pos = append(q.pos, v)
			}
		}
		q.pos = append(q.pos, posVecs...)
		q.neg = negVecs
	}
	q.excluded = excluded
	q.accept = func(id string) bool { return r.admit(q, id) }
	return q, nil
}

// blockMask returns a function zeroing the blocks of a space's vector
// that are not named (RecommendRequest.blocks); nil when none are named.
func blockMask(def spaces.Space, names []string) (func([]float32), error) {
	if len(names) == 0 {
		return nil, nil
	}
	keep := make([]bool, def.Dim())
	for _, n := range names {
		blk, off, ok := def.Block(n)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "blocks: space %s has no %q block", def.Name, n)
		}
		for i := off; i < off+blk.Dim; i++ {
			keep[i] = true
		}
	}
	return func(v []float32) {
		for i := range v {
			if !keep[i] {
				v[i] = 0
			}
		}
	}, nil
}

// admit is the search filter, called for every node a filtered search
// visits: one catalogue lookup and the compiled predicate over the fields
// kept inline in the catalogue entry. The exclusions (which hold at least
// the example products) are checked last, as most nodes a filtered walk
// visits fail the predicate and so cost one map lookup, not two.
func (r *Ranker) admit(q *query, id string) bool {
	e, ok := r.catalog.lookup(id)
	if !ok || !q.filter.test(e.cat, e.price, e.it) {
		return false
	}
	return len(q.excluded) == 0 || !q.excluded[id]
}

// contentVector encodes the request's text, image and audio with the
// space's block models and joins them; nil when the request has none.
func (r *Ranker) contentVector(ctx context.Context, def spaces.Space, req *omnirankv1.RecommendRequest) ([]float32, error) {
	inputs := []struct {
		m    extractors.Modality
		data []byte
	}{
		{extractors.Text, []byte(req.GetQueryText())},
		{extractors.Image, req.GetQueryImage()},
		{extractors.Audio, req.GetQueryAudio()},
	}
	parts := map[string][]float32{}
	for _, in := range inputs {
		if len(in.data) == 0 {
			continue
		}
		// Cross-modal hook: when spaces.Block can say that another block
		// shares this block's model family (CLIP towers), copy the encoded
		// vector into that block too. Not wired until the field exists.
		blk, _, ok := def.Block(string(in.m))
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "space %s has no %s block", def.Name, in.m)
		}
		v, err := r.encode(ctx, blk, in.data)
		if err != nil {
			return nil, err
		}
		parts[string(in.m)] = v
	}
	if len(parts) == 0 {
		return nil, nil
	}
	joint, _, err := def.Join(parts)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "query: %v", err)
	}
	return joint, nil
}

// encode runs one query input through the block's model.
func (r *Ranker) encode(ctx context.Context, blk spaces.Block, data []byte) ([]float32, error) {
	if r.enc == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "no query encoders configured for %s", blk.Model)
	}
	enc, err := r.enc.Encoder(ctx, blk.Model)
	if err != nil {
		if s := ctxStatus(ctx); s != nil {
			return nil, s
		}
		return nil, status.Errorf(codes.FailedPrecondition, "encoder %s: %v", blk.Model, err)
	}
	defer func() {
		if err := enc.Close(); err != nil {
			r.cfg.logger.Warn("close query encoder", "model", blk.Model, "err", err)
		}
	}()
	if enc.Dim() != blk.Dim {
		return nil, status.Errorf(codes.FailedPrecondition, "encoder %s gives %d dims, %s block has %d", blk.Model, enc.Dim(), blk.Modality, blk.Dim)
	}
	vecs, err := enc.Encode(ctx, [][]byte{data})
	switch {
	case err == nil:
	case errors.Is(err, extractors.ErrBadInput):
		return nil, status.Errorf(codes.InvalidArgument, "query %s: %v", blk.Modality, err)
	default:
		if s := ctxStatus(ctx); s != nil {
			return nil, s
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, status.FromContextError(err).Err()
		}
		return nil, status.Errorf(codes.Internal, "encode query %s with %s: %v", blk.Modality, blk.Model, err)
	}
	if len(vecs) != 1 || len(vecs[0]) != blk.Dim {
		return nil, status.Errorf(codes.Internal, "encoder %s returned %d vectors", blk.Model, len(vecs))
	}
	return vecs[0], nil
}

// profile is the user's time-decayed, kind-weighted mean of the vectors of
// the products in their history, the events of their latest session
// (within the session window of the newest) weighted sessionBoost times
// more; nil when none is in the space.
func (r *Ranker) profile(sp *spaceState, uv userView, now time.Time) []float32 {
	var sum []float32
	cache := map[string][]float32{}
	last := uv.last()
	for _, e := range uv.events {
		v, ok := cache[e.product]
		if !ok {
			v, _ = sp.vector(e.product)
			cache[e.product] = v
		}
		if v == nil {
			continue
		}
		age := max(now.Sub(e.at), 0)
		w := kindWeights[e.kind] * math.Exp2(-age.Hours()/r.cfg.profileHalfLife.Hours())
		if inSession(e.at, last, r.cfg.sessionWindow) {
			w *= r.cfg.sessionBoost
		}
		if sum == nil {
			sum = make([]float32, len(v))
		}
		for i, x := range v {
			sum[i] += float32(w) * x
		}
	}
	if sum == nil || l2(sum) == 0 {
		return nil
	}
	spaces.Normalize(sum)
	return sum
}

// vectorCandidates searches the space's index and scores the hits.
func (r *Ranker) vectorCandidates(ctx context.Context, sp *spaceState, q *query, pool int, now time.Time) ([]candidate, error) {
	sel := r.selectivity(q)
	hits, err := sp.idx.Search(ctx, q.vec, index.SearchOptions{K: pool, Filter: q.accept, Selectivity: sel})
	if err != nil {
		if s := ctxStatus(ctx); s != nil {
			return nil, s
		}
		return nil, status.Errorf(codes.Internal, "search space %s: %v", sp.def.Name, err)
	}
	out := make([]candidate, 0, len(hits))
	for _, h := range hits {
		vec, ok := sp.vector(h.ID)
		if !ok {
			continue // deleted since the search
		}
		// Re-check: the product may have changed since the search saw it.
		it, ok := r.catalog.get(h.ID)
		if !ok || !q.match(it) || q.excluded[h.ID] {
			continue
		}
		f := r.itemFeatures(it, q, now)
		f.Blocks = r.similarity(sp.def, q, vec)
		for _, b := range f.Blocks {
			f.Cosine += b
		}
		out = append(out, candidate{id: h.ID, vec: vec, features: f, score: q.scorer.Score(f)})
	}
	return out, nil
}

// selectivity estimates the fraction of the catalogue the request's
// filter accepts (exclusions apart).
func (r *Ranker) selectivity(q *query) float64 {
	if q.filterKey == "" {
		return 1
	}
	return r.catalog.selectivity(q.filterKey, q.match)
}

// similarity splits a candidate's similarity to the query by block.
func (r *Ranker) similarity(def spaces.Space, q *query, vec []float32) map[string]float32 {
	if !q.bestScore {
		return def.BlockDots(q.vec, vec)
	}
	best := func(vs [][]float32) []float32 {
		var b []float32
		bestDot := float32(math.Inf(-1))
		for _, v := range vs {
			if d := dot(v, vec); d > bestDot {
				b, bestDot = v, d
			}
		}
		return b
	}
	out := map[string]float32{}
	for _, blk := range def.Blocks {
		out[blk.Modality] = 0
	}
	if p := best(q.pos); p != nil {
		for m, d := range def.BlockDots(p, vec) {
			out[m] += d
		}
	}
	if n := best(q.neg); n != nil {
		for m, d := range def.BlockDots(n, vec) {
			out[m] -= d
		}
	}
	return out
}

// itemFeatures computes the features that do not depend on the query
// vector.
func (r *Ranker) itemFeatures(it *Item, q *query, now time.Time) Features {
	cooc, next, pop := r.fb.itemFeatures(it.ID, q.seeds, q.session, now)
	return Features{Cooccurrence: cooc, NextItem: next, Popularity: pop, Freshness: freshness(it.UploadedAt, now, r.cfg.freshHalfLife)}
}

// coldCandidates ranks the catalogue items matching the filter that have a
// vector in the space by popularity, co-occurrence and freshness (no query
// vector): popular items, or the newest where there is no feedback.
func (r *Ranker) coldCandidates(sp *spaceState, q *query, pool int, now time.Time) []candidate {
	var items []*Item
	r.catalog.each(func(it *Item) {
		items = append(items, it)
	})
	out := make([]candidate, 0, min(len(items), pool))
	for _, it := range items {
		if !q.accept(it.ID) || !sp.has(it.ID) {
			continue
		}
		f := r.itemFeatures(it, q, now)
		out = append(out, candidate{id: it.ID, features: f, score: q.scorer.Score(f)})
	}
	sortCandidates(out)
	out = out[:min(len(out), pool)]
	for i := range out {
		out[i].vec, _ = sp.vector(out[i].id)
		out[i].features.Blocks = make(map[string]float32, len(sp.def.Blocks))
		for _, blk := range sp.def.Blocks {
			out[i].features.Blocks[blk.Modality] = 0
		}
	}
	return out
}

// result renders a candidate.
func (r *Ranker) result(scorer Scorer, c candidate, explain bool) *omnirankv1.ScoredProduct {
	sp := &omnirankv1.ScoredProduct{Id: c.id, Score: c.score}
	if it, ok := r.catalog.get(c.id); ok {
		sp.Title, sp.Category, sp.Price, sp.Currency = it.Title, it.Category, it.Price, it.Currency
		for _, m := range it.Media {
			sp.Media = append(sp.Media, &omnirankv1.MediaRef{Key: m.Key, Kind: m.Kind, ContentType: m.ContentType, Speech: m.Speech})
		}
	}
	if explain {
		var contribs []Contribution
		if ex, ok := scorer.(Explainer); ok {
			contribs = ex.Explain(c.features)
		} else {
			mods := make([]string, 0, len(c.features.Blocks))
			for m := range c.features.Blocks {
				mods = append(mods, m)
			}
			slices.Sort(mods)
			for _, m := range mods {
				contribs = append(contribs, Contribution{Name: "modality:" + m, Value: c.features.Blocks[m]})
			}
		}
		if c.hybrid != nil {
			// The scorer's parts explain the vector side's score; the
			// fusion parts sum to the fused score.
			contribs = append(contribs,
				Contribution{Name: "lexical:bm25", Value: c.features.Lexical},
				Contribution{Name: "fusion:vector", Value: c.hybrid.vector},
				Contribution{Name: "fusion:lexical", Value: c.hybrid.lexical})
		}
		for _, ct := range contribs {
			sp.Contributions = append(sp.Contributions, &omnirankv1.Contribution{Name: ct.Name, Value: ct.Value})
		}
	}
	return sp
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range min(len(a), len(b)) {
		s += a[i] * b[i]
	}
	return s
}

func l2(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// mean returns the mean of vs, nil when empty.
func mean(vs [][]float32) []float32 {
	if len(vs) == 0 {
		return nil
	}
	out := make([]float32, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			out[i] += x
		}
	}
	inv := 1 / float32(len(vs))
	for i := range out {
		out[i] *= inv
	}
	return out
}
