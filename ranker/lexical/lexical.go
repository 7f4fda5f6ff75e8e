// Package lexical owns the ranker's lexical (keyword) index: an in-memory
// inverted index scoring BM25 over a product's title, description, brand,
// category path, attribute values and the transcript of its spoken audio
// (a voice-over), with per-field weights and English
// analysis (bleve's "en" analyser: Unicode words, possessives, lower-case,
// stop words, Porter stemming).
//
// A query is analysed like the documents. Each query word searches every
// weighted field; a word of MinFuzzyLen letters or more also matches
// dictionary terms one edit away (spelling tolerance: insertion, deletion,
// substitution or adjacent transposition), weighted FuzzyWeight below an
// exact match; two adjacent query words also match as a phrase in the title,
// description and transcript (PhraseBoost): those fields index every adjacent word
// pair as a term, so "running shoe" ranks products saying "running shoe"
// above ones saying "shoe ... for running". An optional QueryExpander adds
// weighted terms (synonyms, say) to a query.
//
// # Scoring
//
// Per clause (a term in a field, with boost w: the field weight times the
// clause's weight), with N products, n of them holding the term in the
// field, tf its occurrences in the product's field, len the field's tokens
// and avgLen their mean over the N products:
//
//	idf   = ln(1 + (N - n + 0.5) / (n + 0.5))
//	score = Σ w · idf · tf·(k1 + 1) / (tf + k1·(1 - b + b·len/avgLen)),  k1 = 1.2, b = 0.75
//
// summed over the clauses the product matches (Lucene's BM25 per field,
// fields mixed by weight as in BM25F's simple form).
//
// # Why not bleve's index
//
// bleve v2.6.3's scorch index (BM25 scoring, in a private folder: its
// memory-only mode never merges segments) took 10.0 ms per query
// unfiltered and 17.0 ms with a filter accepting one product in five, at
// 100,000 products of the load test's vocabulary (queries of one to three
// common words, 64 hits; BenchmarkSearch, wall time on the shared 2-CPU
// machine): it scores every matching document through a tree of
// searchers. The ranker's budget for the lexical side is 1 ms. This index
// scores term at a time into a dense accumulator and asks the filter in
// score order: 0.20 ms CPU per query unfiltered, 0.47 ms with the filter
// (same benchmark, 3,000 queries); rebuilding it from 100,000 products
// takes 3-10 s (BenchmarkBuild, varying with the machine's load) and it
// holds about 90 MiB.
//
// # Updates
//
// Changes (Put, Delete) are queued and applied in batches by one goroutine:
// a burst (the catalogue's initial load) becomes a few large batches, a live
// change a batch of one, searchable as soon as its batch is in. The index
// is not a source of truth: a ranker rebuilds it from the catalogue at
// start.
package lexical

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
)

// Field names, in the order of FieldWeights.
const (
	FieldTitle = iota
	FieldDescription
	FieldBrand
	FieldCategory
	FieldAttributes
	FieldTranscript
	numFields
)

// phraseFields keep adjacent word pairs for phrase matching.
var phraseFields = [numFields]bool{FieldTitle: true, FieldDescription: true, FieldTranscript: true}

// ErrClosed is returned by Search and Flush after Close.
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
	// Transcript is what the speech recogniser heard in the product's
	// speech-marked audio (empty without one).
	Transcript string
}

// FieldWeights are the per-field boosts; a field weighted 0 is not
// searched.
type FieldWeights struct {
	Title, Description, Brand, Category, Attributes, Transcript float64
}

func (w FieldWeights) array() [numFields]float64 {
	return [numFields]float64{w.Title, w.Description, w.Brand, w.Category, w.Attributes, w.Transcript}
}

// DefaultFieldWeights: the title counts most, then the brand, the category
// path, attribute values, the description and the transcript (a spoken
// description, weighted like the written one).
func DefaultFieldWeights() FieldWeights {
	return FieldWeights{Title: 3, Description: 1, Brand: 2, Category: 1.5, Attributes: 1, Transcript: 1}
}

// WeightedTerm is one term (or multi-word phrase) a QueryExpander adds to a
// query, with its weight relative to an original query word (1).
type WeightedTerm struct {
	Term   string
	Weight float64
}

// QueryExpander adds terms to a query: synonyms, related words. The
// returned terms are analysed like the query; a term of several words
// matches as a phrase (its adjacent word pairs) in the title and
// description. Expand must be safe for concurrent use.
type QueryExpander interface {
	Expand(query string) []WeightedTerm
}

// Config configures an Index. The zero value is not valid: start from
// DefaultConfig.
type Config struct {
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
	// MaxBatch bounds the changes applied in one batch (the index is
	// locked against searches while a batch goes in).
	MaxBatch int
	// Expander, when set, expands every query.
	Expander QueryExpander
	Logger   *slog.Logger
}

// DefaultConfig returns the default configuration: DefaultFieldWeights,
// fuzzy matches at 0.3 of an exact one for words of 5+ letters, phrase
// boost 1, batches of at most 1,000 changes.
func DefaultConfig() Config {
	return Config{Weights: DefaultFieldWeights(), FuzzyWeight: 0.3, MinFuzzyLen: 5, PhraseBoost: 1, MaxBatch: 1000, Logger: slog.Default()}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	w := c.Weights
	anyField := false
	for _, x := range w.array() {
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
	cfg Config
	an  analyzer
	inv *inverted // guarded by invMu
	// invMu: searches read-lock, batches write-lock.
	invMu sync.RWMutex
	acc   sync.Pool // *accumulator

	mu sync.Mutex
	// pending holds the changes not yet applied, by product: a Doc to
	// index or nil to delete.
	pending map[string]*Doc
	// queued counts changes handed to Put/Delete; applied is the value of
	// queued up to which every change is applied.
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
}

// New creates an empty index and starts its batching goroutine; Close
// stops it.
func New(cfg Config) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	an, err := newAnalyzer()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	x := &Index{
		cfg: cfg, an: an, inv: newInverted(),
		pending: map[string]*Doc{}, appliedCh: make(chan struct{}), readyCh: make(chan struct{}),
		wake: make(chan struct{}, 1), stop: cancel, done: make(chan struct{}),
	}
	go x.loop(ctx)
	return x, nil
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
// changes remain. Documents are analysed before the index is locked.
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
		analysed := make(map[string]*docTerms, len(take))
		for id, d := range take {
			if d != nil {
				analysed[id] = x.analyseDoc(d)
			}
		}
		x.invMu.Lock()
		for id := range take {
			x.inv.remove(id)
			if dt := analysed[id]; dt != nil {
				x.inv.add(id, dt)
			}
		}
		x.invMu.Unlock()
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

// Len returns the number of indexed products (changes still queued apart).
func (x *Index) Len() int {
	x.invMu.RLock()
	defer x.invMu.RUnlock()
	return x.inv.live
}

// Batches counts the batches applied.
func (x *Index) Batches() int64 { return x.batches.Load() }

// SearchOptions shape one search.
type SearchOptions struct {
	// K is the number of hits wanted (> 0).
	K int
	// Accept, when set, keeps only the products it accepts: the best K
	// accepted products are returned (fewer only when fewer match).
	Accept func(id string) bool
	// Selectivity is the expected fraction of products Accept accepts, in
	// (0, 1] (0: unknown): it sizes the first round of candidates, so that
	// one round usually suffices.
	Selectivity float64
}

// Search returns up to K products matching text, best first (score
// descending, id ascending on ties).
func (x *Index) Search(ctx context.Context, text string, opts SearchOptions) ([]Hit, error) {
	if opts.K <= 0 {
		return nil, fmt.Errorf("lexical: k must be > 0, got %d", opts.K)
	}
	if x.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q := x.buildQuery(text)
	if q.empty() {
		return nil, nil
	}
	acc, _ := x.acc.Get().(*accumulator)
	if acc == nil {
		acc = &accumulator{}
	}
	defer x.acc.Put(acc)
	x.invMu.RLock()
	defer x.invMu.RUnlock()
	return x.inv.search(acc, q, x.cfg.Weights.array(), opts), nil
}

// Close stops the batching goroutine and drops the index. Queued changes
// not yet applied are dropped. It is idempotent.
func (x *Index) Close() error {
	if !x.closed.CompareAndSwap(false, true) {
		return nil
	}
	x.stop()
	<-x.done
	x.invMu.Lock()
	x.inv = newInverted()
	x.invMu.Unlock()
	return nil
}
