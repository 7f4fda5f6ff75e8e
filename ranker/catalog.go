package ranker

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/ranker/lexical"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Item is the catalogue metadata the ranker keeps per product for filters
// and responses. Items are immutable once published in the view.
type Item struct {
	ID         string
	Title      string
	Category   []string
	Price      float64
	Currency   string
	Attributes map[string]string
	Media      []storage.Media
	State      topology.ProductState
	UploadedAt time.Time
	// Revision is the product record's content revision.
	Revision uint64
	// catKey is categoryKey(Category), interned by the catalogue.
	catKey string
}

// catShards is the number of independently locked parts of the
// catalogue: a filtered search reads the catalogue once per visited graph
// node, and one RWMutex shared by every concurrent search made those reads
// contend on its reader count.
const catShards = 64

// catEntry is what the catalogue keeps per product: the item and, inline,
// the fields filters test on every visited node, so that a filter check
// is one map lookup without following the item pointer.
type catEntry struct {
	it    *Item
	cat   string // it.catKey
	price float64
}

// catShard is one part of the catalogue, padded to its own cache lines.
type catShard struct {
	mu sync.RWMutex
	m  map[string]catEntry
	_  [64]byte
}

// catalog follows the products bucket into memory.
type catalog struct {
	log    *slog.Logger
	seed   maphash.Seed
	shards [catShards]catShard
	n      atomic.Int64
	// interned category paths (catKey): products share a few paths, so
	// filters compare hot, shared strings.
	internMu sync.Mutex
	intern   map[string]string
	ready    atomic.Bool
	// readyCh is closed once the initial values are loaded.
	readyCh   chan struct{}
	readyOnce sync.Once
	rejected  atomic.Int64
	// version counts applied changes; selectivity estimates are reused
	// while it moved less than 1% of the catalogue.
	version atomic.Uint64
	selMu   sync.Mutex
	sel     map[string]selEstimate
	// sink, when set (before follow starts), receives every applied
	// change: the lexical index, fed from the same ordered consumer.
	sink catalogSink
}

// catalogSink follows the catalogue's changes in the order it applies
// them. *lexical.Index satisfies it.
type catalogSink interface {
	Put(d lexical.Doc)
	Delete(id string)
	// MarkLoaded says that the initial values have all been passed on.
	MarkLoaded()
}

type selEstimate struct {
	value   float64
	version uint64
}

// maxSelCache bounds the cached selectivity estimates.
const maxSelCache = 1024

// maxInterned bounds the interned category paths; past it new paths are
// kept uninterned (correct, only less cache-friendly).
const maxInterned = 1 << 16

func newCatalog(log *slog.Logger) *catalog {
	c := &catalog{log: log, seed: maphash.MakeSeed(), intern: map[string]string{}, readyCh: make(chan struct{}), sel: map[string]selEstimate{}}
	for i := range c.shards {
		c.shards[i].m = map[string]catEntry{}
	}
	return c
}

func (c *catalog) markReady() {
	c.readyOnce.Do(func() {
		if c.sink != nil {
			c.sink.MarkLoaded()
		}
		c.ready.Store(true)
		close(c.readyCh)
	})
}

func (c *catalog) shard(id string) *catShard {
	return &c.shards[maphash.String(c.seed, id)%catShards]
}

// lookup returns the entry of a product.
func (c *catalog) lookup(id string) (catEntry, bool) {
	s := c.shard(id)
	s.mu.RLock()
	e, ok := s.m[id]
	s.mu.RUnlock()
	return e, ok
}

// get returns the item of a product.
func (c *catalog) get(id string) (*Item, bool) {
	e, ok := c.lookup(id)
	return e.it, ok
}

func (c *catalog) len() int { return int(c.n.Load()) }

// apply applies one record of the products bucket: a put replaces the
// item, a delete or purge removes it.
func (c *catalog) apply(key string, removed bool, value []byte) {
	defer c.version.Add(1)
	s := c.shard(key)
	if removed {
		s.mu.Lock()
		if _, ok := s.m[key]; ok {
			delete(s.m, key)
			c.n.Add(-1)
		}
		s.mu.Unlock()
		if c.sink != nil {
			c.sink.Delete(key)
		}
		return
	}
	it, p, tr, err := decodeItem(key, value)
	if err != nil {
		c.rejected.Add(1)
		c.log.Warn("catalogue: skipping product record", "key", key, "err", err)
		return
	}
	it.catKey = c.internPath(it.catKey)
	s.mu.Lock()
	if _, ok := s.m[key]; !ok {
		c.n.Add(1)
	}
	s.m[key] = catEntry{it: it, cat: it.catKey, price: it.Price}
	s.mu.Unlock()
	if c.sink != nil {
		c.sink.Put(lexical.Doc{ID: key, Title: p.Title, Description: p.Description, Brand: p.Brand, Category: p.Category,
			Attributes: p.Attributes, Transcript: tr})
	}
}

// internPath returns the shared copy of an encoded category path.
func (c *catalog) internPath(k string) string {
	c.internMu.Lock()
	defer c.internMu.Unlock()
	if v, ok := c.intern[k]; ok {
		return v
	}
	if len(c.intern) < maxInterned {
		c.intern[k] = k
	}
	return k
}

// categoryKey encodes a category path so that path p is a prefix of path
// c (element by element) exactly when categoryKey(p) is a byte prefix of
// categoryKey(c): each element is written as its length then its bytes.
func categoryKey(path []string) string {
	var b []byte
	for _, s := range path {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return string(b)
}

// decodeItem decodes a product record into the item the catalogue keeps,
// and the product and its transcript's text (for the lexical index).
func decodeItem(key string, data []byte) (*Item, *storage.Product, string, error) {
	var rec topology.ProductRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, nil, "", fmt.Errorf("decode product record %s: %w", key, err)
	}
	p := &rec.Product
	if p.ID != "" && p.ID != key {
		return nil, nil, "", fmt.Errorf("decode product record %s: product id %q differs from its key", key, p.ID)
	}
	var transcript string
	if rec.Transcript != nil {
		transcript = rec.Transcript.Text
	}
	return &Item{
		ID:         key,
		Title:      p.Title,
		Category:   slices.Clone(p.Category),
		catKey:     categoryKey(p.Category),
		Price:      p.Price,
		Currency:   p.Currency,
		Attributes: p.Attributes,
		Media:      slices.Clone(p.Media),
		State:      rec.State,
		UploadedAt: rec.UploadedAt,
		Revision:   rec.Revision,
	}, p, transcript, nil
}

// follow reads the products bucket's stream with an ordered consumer (the
// last record of every key, then every change) until ctx ends. It returns
// once the consumer is set up; the returned function blocks until it
// stopped. An ordered consumer, like the embedding followers', resumes
// promptly after a NATS restart, where a KV watch lagged for seconds.
func (c *catalog) follow(ctx context.Context, js jetstream.JetStream) (wait func(), err error) {
	streamName := "KV_" + topology.BucketProducts
	prefix := "$KV." + topology.BucketProducts + "."
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return nil, fmt.Errorf("open products bucket: %w", err)
	}
	var startSeq uint64
	last, err := stream.GetLastMsgForSubject(ctx, prefix+">")
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		c.markReady()
	case err != nil:
		return nil, fmt.Errorf("last product record: %w", err)
	default:
		startSeq = last.Sequence
	}
	cons, err := js.OrderedConsumer(ctx, streamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{prefix + ">"}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return nil, fmt.Errorf("follow products bucket: %w", err)
	}
	return topology.Consume(ctx, cons, func(msg jetstream.Msg) {
		op := msg.Headers().Get("KV-Operation")
		c.apply(strings.TrimPrefix(msg.Subject(), prefix), op == "DEL" || op == "PURGE", msg.Data())
		if meta, err := msg.Metadata(); err == nil && (meta.Sequence.Stream >= startSeq || meta.NumPending == 0) {
			c.markReady()
		}
	}, c.log)
}

// sampleSelectivity estimates the fraction of catalogue items accepted by
// match from up to n items, taken evenly from the shards (Go's map order
// is randomised per range).
func (c *catalog) sampleSelectivity(match func(*Item) bool, n int) float64 {
	total := c.len()
	if total <= 0 {
		return 1
	}
	per := max(1, (n+catShards-1)/catShards)
	seen, hit := 0, 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		k := 0
		for _, e := range s.m {
			if k == per {
				break
			}
			k++
			if match(e.it) {
				hit++
			}
		}
		s.mu.RUnlock()
		seen += k
	}
	if seen == 0 {
		return 1
	}
	if hit == 0 {
		// Below what the sample resolves: say so with a small estimate, so
		// that the index prefers an exact filtered scan.
		return max(1/float64(total), 0.5/float64(seen))
	}
	return float64(hit) / float64(seen)
}

// selectivity returns the cached estimate for a filter key, sampling when
// there is none or the catalogue changed by more than 1% since.
func (c *catalog) selectivity(key string, match func(*Item) bool) float64 {
	v := c.version.Load()
	c.selMu.Lock()
	est, ok := c.sel[key]
	c.selMu.Unlock()
	if ok && v-est.version <= uint64(max(c.len()/100, 10)) {
		return est.value
	}
	value := c.sampleSelectivity(match, selectivitySample)
	c.selMu.Lock()
	if len(c.sel) >= maxSelCache {
		clear(c.sel)
	}
	c.sel[key] = selEstimate{value: value, version: v}
	c.selMu.Unlock()
	return value
}

// each calls f for every item, one shard at a time under its read lock.
func (c *catalog) each(f func(*Item)) {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		for _, e := range s.m {
			f(e.it)
		}
		s.mu.RUnlock()
	}
}
