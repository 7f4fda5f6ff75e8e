// Package lexical owns the ranker's lexical (keyword) index: BM25 over a
// product's title, description, brand, category path and attribute values,
// with per-field weights and English analysis (lower-casing, possessives,
// stop words, Porter stemming), built on bleve v2's scorch index.
//
// A query is analysed like the documents. Each query word searches every
// weighted field; a word of MinFuzzyLen letters or more also matches terms
// one edit away (spelling tolerance), weighted FuzzyWeight below an exact
// match; two adjacent query words also score as a phrase in the title and
// description (PhraseBoost), so that "running shoe" ranks products saying
// "running shoe" above ones saying "shoe ... for running". An optional
// QueryExpander adds weighted terms (synonyms, say) to a query.
//
// Changes (Put, Delete) are queued and applied in batches by one goroutine:
// a burst (the catalogue's initial load) becomes a few large batches, a live
// change a batch of one, visible to searches as soon as the batch is in.
//
// # Scoring
//
// bleve's BM25 variant (bleve_index_api.BM25Scoring), per query term t and
// field f, with N documents, n(t) of them holding t in f:
//
//	idf(t)  = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))
//	bm25    = idf(t) · tf·k1 / (tf + k1·(1 - b + b·len/avgLen)),  k1 = 1.2, b = 0.75
//	tf      = sqrt(occurrences of t in the document's field)
//	len     = the number of tokens in the document's field (after stop words)
//	avgLen  = ceil(distinct terms of f in the index / N)
//
// and, as in Lucene's classic combination, each term's bm25 is multiplied
// by boost·idf(t)·queryNorm with queryNorm = 1/sqrt(Σ (boost·idf)²) over the
// query's terms, and a disjunction's sum by the fraction of its clauses that
// matched (coord). Scores rank documents for one query; they are not
// comparable across queries.
//
// # Storage
//
// The index lives in a private folder under Config.Dir (default: the system
// temporary folder), removed on Close. bleve's memory-only scorch never
// merges its segments (its merger runs only with a folder), so a stream of
// single-product updates would pile up segments; with a folder, segments
// are merged in the background while searches see every batch at once
// (unsafe_batch: a batch is searchable before it is on disk). The index is
// not a source of truth: a ranker rebuilds it from the catalogue at start.
package lexical

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"
)

// Field names in the index.
const (
	FieldTitle       = "title"
	FieldDescription = "description"
	FieldBrand       = "brand"
	FieldCategory    = "category"
	FieldAttributes  = "attrs"
)

// ErrClosed is returned by Search after Close.
var ErrClosed = errors.New("lexical: index closed")

// Doc is what the index holds of one product.
type Doc struct {
	ID          string
	Title       string
	Description string
	Brand       string
	// Category is the category path, each element indexed.
	Category []string
	// Attributes: the values are indexed (the keys are not).
	Attributes map[string]string
}

// FieldWeights are the per-field boosts; a field weighted 0 is not
// searched.
type FieldWeights struct {
	Title, Description, Brand, Category, Attributes float64
}

// DefaultFieldWeights: the title counts most, then the brand, the category
// path, attribute values and the description.
func DefaultFieldWeights() FieldWeights {
	return FieldWeights{Title: 3, Description: 1, Brand: 2, Category: 1.5, Attributes: 1}
}

// WeightedTerm is one term (or multi-word phrase) a QueryExpander adds to a
// query, with its weight relative to an original query word (1).
type WeightedTerm struct {
	Term   string
	Weight float64
}

// QueryExpander adds terms to a query: synonyms, related words. The
// returned terms are analysed like the query; a term of several words
// matches as a phrase. Expand must be safe for concurrent use.
type QueryExpander interface {
	Expand(query string) []WeightedTerm
}

// Config configures an Index. The zero value is not valid: start from
// DefaultConfig.
type Config struct {
	// Dir is the folder under which the index keeps its private folder
	// ("" = the system temporary folder).
	Dir string
	// Weights are the per-field boosts.
	Weights FieldWeights
	// FuzzyWeight in [0, 1) weighs a match one edit away from a query word
	// relative to an exact match (0 disables spelling tolerance).
	FuzzyWeight float64
	// MinFuzzyLen is the fewest letters a query word needs to be matched
	// fuzzily.
	MinFuzzyLen int
	// PhraseBoost (>= 0) weighs two adjacent query words found adjacent in
	// the title or description (0 disables phrase matching).
	PhraseBoost float64
	// MaxBatch bounds the changes applied in one batch.
	MaxBatch int
	// Expander, when set, expands every query.
	Expander QueryExpander
	Logger   *slog.Logger
}

// DefaultConfig returns the default configuration: DefaultFieldWeights,
// fuzzy matches at 0.3 of an exact one for words of 5+ letters, phrase
// boost 1, batches of at most 10,000 changes.
func DefaultConfig() Config {
	return Config{Weights: DefaultFieldWeights(), FuzzyWeight: 0.3, MinFuzzyLen: 5, PhraseBoost: 1, MaxBatch: 10000, Logger: slog.Default()}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	w := c.Weights
	anyField := false
	for _, x := range []float64{w.Title, w.Description, w.Brand, w.Category, w.Attributes} {
		if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("lexical: field weights must be finite and >= 0, got %+v", w)
		}
		anyField = anyField || x > 0
	}
	switch {
	case !anyField:
		return fmt.Errorf("lexical: every field weight is 0")
	case !(c.FuzzyWeight >= 0 && c.FuzzyWeight < 1):
		return fmt.Errorf("lexical: fuzzy weight must be in [0, 1), got %v", c.FuzzyWeight)
	case c.MinFuzzyLen < 1:
		return fmt.Errorf("lexical: min fuzzy length must be >= 1, got %d", c.MinFuzzyLen)
	case !(c.PhraseBoost >= 0) || math.IsInf(c.PhraseBoost, 0):
		return fmt.Errorf("lexical: phrase boost must be finite and >= 0, got %v", c.PhraseBoost)
	case c.MaxBatch < 1:
		return fmt.Errorf("lexical: max batch must be >= 1, got %d", c.MaxBatch)
	case c.Logger == nil:
		return fmt.Errorf("lexical: nil logger")
	}
	return nil
}

// Hit is one search result.
type Hit struct {
	ID    string
	Score float64
}

// Index is a BM25 index of products. Its methods are safe for concurrent
// use.
type Index struct {
	cfg     Config
	dir     string
	bi      bleve.Index
	mapping *mapping.IndexMappingImpl
	fields  []weightedField

	mu sync.Mutex
	// pending holds the changes not yet applied, by product: a Doc to
	// index or nil to delete.
	pending map[string]*Doc
	// queued counts changes handed to Put/Delete; applied is the value of
	// queued when pending was last found empty after a batch.
	queued, applied uint64
	// appliedCh is closed (and replaced) whenever applied moves.
	appliedCh chan struct{}
	// loadedAt is the queued count MarkLoaded saw; ready once applied.
	loadedAt uint64
	loadedOK bool
	readyCh  chan struct{}
	ready    atomic.Bool

	wake    chan struct{}
	stop    context.CancelFunc
	done    chan struct{}
	closed  atomic.Bool
	batches atomic.Int64
	failed  atomic.Int64
}

type weightedField struct {
	name   string
	weight float64
	phrase bool
}

// New creates an empty index and starts its batching goroutine; Close
// stops it and removes the index's folder.
func New(cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	parent := cfg.Dir
	if parent == "" {
		parent = os.TempDir()
	}
	dir, err := os.MkdirTemp(parent, "omnirank-lexical-")
	if err != nil {
		return nil, fmt.Errorf("lexical: create index folder: %w", err)
	}
	m := newMapping()
	// scorch needs a path that does not exist yet.
	bi, err := bleve.NewUsing(dir+"/index", m, scorch.Name, scorch.Name, map[string]any{"unsafe_batch": true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("lexical: create index in %s: %w", dir, err)
	}
	w := cfg.Weights
	var fields []weightedField
	for _, f := range []weightedField{
		{FieldTitle, w.Title, true}, {FieldDescription, w.Description, true},
		{FieldBrand, w.Brand, false}, {FieldCategory, w.Category, false}, {FieldAttributes, w.Attributes, false},
	} {
		if f.weight > 0 {
			fields = append(fields, f)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &Index{
		cfg: cfg, dir: dir, bi: bi, mapping: m, fields: fields,
		pending: map[string]*Doc{}, appliedCh: make(chan struct{}), readyCh: make(chan struct{}),
		wake: make(chan struct{}, 1), stop: cancel, done: make(chan struct{}),
	}
	go x.loop(ctx)
	return x, nil
}

// newMapping indexes the five text fields with the English analyser and
// BM25 scoring; the title and description keep term positions for phrase
// matching. Nothing is stored: a search returns ids and scores.
func newMapping() *mapping.IndexMappingImpl {
	text := func(positions bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = en.AnalyzerName
		f.Store = false
		f.IncludeInAll = false
		f.IncludeTermVectors = positions
		f.DocValues = false
		return f
	}
	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(FieldTitle, text(true))
	doc.AddFieldMappingsAt(FieldDescription, text(true))
	doc.AddFieldMappingsAt(FieldBrand, text(false))
	doc.AddFieldMappingsAt(FieldCategory, text(false))
	doc.AddFieldMappingsAt(FieldAttributes, text(false))
	m := bleve.NewIndexMapping()
	m.DefaultMapping = doc
	m.DefaultAnalyzer = en.AnalyzerName
	m.ScoringModel = index.BM25Scoring
	m.StoreDynamic = false
	m.IndexDynamic = false
	m.DocValuesDynamic = false
	return m
}

// Put queues d for indexing, replacing any earlier version of the product.
func (x *Index) Put(d Doc) {
	x.enqueue(d.ID, &d)
}

// Delete queues the removal of a product.
func (x *Index) Delete(id string) {
	x.enqueue(id, nil)
}

func (x *Index) enqueue(id string, d *Doc) {
	x.mu.Lock()
	x.pending[id] = d
	x.queued++
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// MarkLoaded says that every change of the initial load has been queued:
// Ready turns true once they are all applied.
func (x *Index) MarkLoaded() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.loadedOK {
		return
	}
	x.loadedOK, x.loadedAt = true, x.queued
	x.checkReady()
}

// checkReady closes readyCh once the initial load is applied; x.mu held.
func (x *Index) checkReady() {
	if x.loadedOK && x.applied >= x.loadedAt && x.ready.CompareAndSwap(false, true) {
		close(x.readyCh)
	}
}

// Ready reports whether the initial load (MarkLoaded) has been applied.
func (x *Index) Ready() bool { return x.ready.Load() }

// ReadyCh is closed once Ready.
func (x *Index) ReadyCh() <-chan struct{} { return x.readyCh }

// Flush waits until every change queued before the call is searchable.
func (x *Index) Flush(ctx context.Context) error {
	x.mu.Lock()
	target := x.queued
	x.mu.Unlock()
	for {
		x.mu.Lock()
		applied, ch := x.applied, x.appliedCh
		x.mu.Unlock()
		if applied >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lexical: flush: %w", ctx.Err())
		case <-x.done:
			return ErrClosed
		case <-ch:
		}
	}
}

// loop applies queued changes in batches until ctx ends.
func (x *Index) loop(ctx context.Context) {
	defer close(x.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.wake:
		}
		for x.applyBatch() {
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// applyBatch applies up to MaxBatch pending changes; it reports whether
// changes remain.
func (x *Index) applyBatch() bool {
	x.mu.Lock()
	take := make(map[string]*Doc, min(len(x.pending), x.cfg.MaxBatch))
	for id, d := range x.pending {
		if len(take) == x.cfg.MaxBatch {
			break
		}
		take[id] = d
		delete(x.pending, id)
	}
	rest := len(x.pending)
	seen := x.queued
	x.mu.Unlock()
	if len(take) > 0 {
		b := x.bi.NewBatch()
		for id, d := range take {
			if d == nil {
				b.Delete(id)
				continue
			}
			if err := b.Index(id, d.fields()); err != nil {
				x.failed.Add(1)
				x.cfg.Logger.Warn("lexical: skipping product", "id", id, "err", err)
			}
		}
		if err := x.bi.Batch(b); err != nil {
			x.failed.Add(int64(len(take)))
			x.cfg.Logger.Error("lexical: apply batch", "changes", len(take), "err", err)
		}
		x.batches.Add(1)
	}
	if rest > 0 {
		return true
	}
	// Every change queued up to seen was in this batch or an earlier one.
	x.mu.Lock()
	if seen > x.applied {
		x.applied = seen
		close(x.appliedCh)
		x.appliedCh = make(chan struct{})
		x.checkReady()
	}
	more := len(x.pending) > 0
	x.mu.Unlock()
	return more
}

// fields is the document bleve indexes.
func (d *Doc) fields() map[string]any {
	m := map[string]any{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put(FieldTitle, d.Title)
	put(FieldDescription, d.Description)
	put(FieldBrand, d.Brand)
	if len(d.Category) > 0 {
		m[FieldCategory] = d.Category
	}
	if len(d.Attributes) > 0 {
		vals := make([]string, 0, len(d.Attributes))
		for _, v := range d.Attributes {
			vals = append(vals, v)
		}
		m[FieldAttributes] = vals
	}
	return m
}

// Len returns the number of indexed products (changes still queued apart).
func (x *Index) Len() int {
	n, err := x.bi.DocCount()
	if err != nil {
		return 0
	}
	return int(n)
}

// Stats counts the batches applied and the changes that failed.
func (x *Index) Stats() (batches, failed int64) { return x.batches.Load(), x.failed.Load() }

// SearchOptions shape one search.
type SearchOptions struct {
	// K is the number of hits wanted (> 0).
	K int
	// Accept, when set, keeps only the products it accepts; the search
	// fetches more hits until K are accepted or none are left.
	Accept func(id string) bool
}

// minFetch is the fewest hits fetched per round of a filtered search.
const minFetch = 32

// Search returns up to K products matching text, best first (score
// descending, id ascending on ties).
func (x *Index) Search(ctx context.Context, text string, opts SearchOptions) ([]Hit, error) {
	if opts.K <= 0 {
		return nil, fmt.Errorf("lexical: k must be > 0, got %d", opts.K)
	}
	if x.closed.Load() {
		return nil, ErrClosed
	}
	q := x.buildQuery(text)
	if q == nil {
		return nil, nil
	}
	fetch := opts.K
	if opts.Accept != nil {
		fetch = max(2*opts.K, minFetch)
	}
	for {
		req := bleve.NewSearchRequestOptions(q, fetch, 0, false)
		req.SortBy([]string{"-_score", "_id"})
		res, err := x.bi.SearchInContext(ctx, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("lexical: search %q: %w", text, err)
		}
		out := make([]Hit, 0, min(opts.K, len(res.Hits)))
		for _, h := range res.Hits {
			if opts.Accept != nil && !opts.Accept(h.ID) {
				continue
			}
			out = append(out, Hit{ID: h.ID, Score: h.Score})
			if len(out) == opts.K {
				break
			}
		}
		if len(out) == opts.K || uint64(len(res.Hits)) >= res.Total || len(res.Hits) < fetch {
			return out, nil
		}
		// Too few accepted: fetch more, at least 4x, or by the accepted
		// fraction seen so far.
		need := fetch * 4
		if len(out) > 0 {
			need = max(need, int(float64(fetch)*float64(opts.K)/float64(len(out))*1.5))
		}
		fetch = int(min(uint64(need), res.Total))
	}
}

// token is one analysed query word.
type token struct {
	term    string
	pos     int
	letters int
}

// analyze runs text through the English analyser.
func (x *Index) analyze(text string) []token {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	ts, err := x.mapping.AnalyzeText(en.AnalyzerName, []byte(text))
	if err != nil {
		// The analyser is registered by the en package's init: it exists.
		x.cfg.Logger.Error("lexical: analyse query", "err", err)
		return nil
	}
	return tokens(ts, text)
}

func tokens(ts analysis.TokenStream, text string) []token {
	out := make([]token, 0, len(ts))
	for _, t := range ts {
		letters := len(t.Term)
		if t.Start >= 0 && t.End <= len(text) && t.Start < t.End {
			letters = utf8.RuneCountInString(text[t.Start:t.End])
		}
		out = append(out, token{term: string(t.Term), pos: t.Position, letters: letters})
	}
	return out
}

// buildQuery is the disjunction of one clause per distinct query word
// (its exact and fuzzy matches in every weighted field), one per adjacent
// word pair (a phrase in the title and description) and one per expansion
// term; nil when the text has no searchable word.
func (x *Index) buildQuery(text string) query.Query {
	toks := x.analyze(text)
	var clauses []query.Query
	seen := map[string]bool{}
	for _, t := range toks {
		if seen[t.term] {
			continue
		}
		seen[t.term] = true
		clauses = append(clauses, x.wordClause(t, 1))
	}
	if x.cfg.PhraseBoost > 0 {
		for i := 1; i < len(toks); i++ {
			if toks[i].pos == toks[i-1].pos+1 && toks[i].term != toks[i-1].term {
				if c := x.phraseClause([]string{toks[i-1].term, toks[i].term}, x.cfg.PhraseBoost); c != nil {
					clauses = append(clauses, c)
				}
			}
		}
	}
	if x.cfg.Expander != nil {
		for _, wt := range x.cfg.Expander.Expand(text) {
			if !(wt.Weight > 0) || math.IsInf(wt.Weight, 0) {
				continue
			}
			et := x.analyze(wt.Term)
			switch {
			case len(et) == 1 && !seen[et[0].term]:
				seen[et[0].term] = true
				clauses = append(clauses, x.wordClause(token{term: et[0].term}, wt.Weight))
			case len(et) > 1:
				terms := make([]string, len(et))
				for i, t := range et {
					terms[i] = t.term
				}
				if c := x.phraseClause(terms, wt.Weight); c != nil {
					clauses = append(clauses, c)
				}
			}
		}
	}
	if len(clauses) == 0 {
		return nil
	}
	return query.NewDisjunctionQuery(clauses)
}

// wordClause matches one analysed word in every weighted field, exactly
// and (long enough words) one edit away.
func (x *Index) wordClause(t token, weight float64) query.Query {
	var qs []query.Query
	for _, f := range x.fields {
		tq := query.NewTermQuery(t.term)
		tq.SetField(f.name)
		tq.SetBoost(weight * f.weight)
		qs = append(qs, tq)
		if x.cfg.FuzzyWeight > 0 && t.letters >= x.cfg.MinFuzzyLen {
			fq := query.NewFuzzyQuery(t.term)
			fq.SetField(f.name)
			fq.SetFuzziness(1)
			fq.SetBoost(weight * f.weight * x.cfg.FuzzyWeight)
			qs = append(qs, fq)
		}
	}
	if len(qs) == 1 {
		return qs[0]
	}
	return query.NewDisjunctionQuery(qs)
}

// phraseClause matches consecutive analysed terms in the fields that keep
// positions.
func (x *Index) phraseClause(terms []string, weight float64) query.Query {
	var qs []query.Query
	for _, f := range x.fields {
		if !f.phrase {
			continue
		}
		pq := query.NewPhraseQuery(terms, f.name)
		pq.SetBoost(weight * f.weight)
		qs = append(qs, pq)
	}
	switch len(qs) {
	case 0:
		return nil
	case 1:
		return qs[0]
	}
	return query.NewDisjunctionQuery(qs)
}

// Close stops the batching goroutine, closes the index and removes its
// folder. Queued changes not yet applied are dropped. It is idempotent.
func (x *Index) Close() error {
	if !x.closed.CompareAndSwap(false, true) {
		return nil
	}
	x.stop()
	<-x.done
	err := x.bi.Close()
	if rerr := os.RemoveAll(x.dir); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("lexical: close index: %w", err)
	}
	return nil
}
