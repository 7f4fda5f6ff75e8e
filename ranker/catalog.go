package ranker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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
}

// catalog follows the products bucket into memory.
type catalog struct {
	log   *slog.Logger
	mu    sync.RWMutex
	items map[string]*Item
	ready atomic.Bool
	// readyCh is closed once the initial values are loaded.
	readyCh   chan struct{}
	readyOnce sync.Once
	rejected  atomic.Int64
	// version counts applied changes; selectivity estimates are reused
	// while it moved less than 1% of the catalogue.
	version atomic.Uint64
	selMu   sync.Mutex
	sel     map[string]selEstimate
}

type selEstimate struct {
	value   float64
	version uint64
}

// maxSelCache bounds the cached selectivity estimates.
const maxSelCache = 1024

func newCatalog(log *slog.Logger) *catalog {
	return &catalog{log: log, items: map[string]*Item{}, readyCh: make(chan struct{}), sel: map[string]selEstimate{}}
}

func (c *catalog) markReady() {
	c.readyOnce.Do(func() {
		c.ready.Store(true)
		close(c.readyCh)
	})
}

// get returns the item of a product.
func (c *catalog) get(id string) (*Item, bool) {
	c.mu.RLock()
	it, ok := c.items[id]
	c.mu.RUnlock()
	return it, ok
}

func (c *catalog) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.items)
}

// apply applies one record of the products bucket: a put replaces the
// item, a delete or purge removes it.
func (c *catalog) apply(key string, removed bool, value []byte) {
	defer c.version.Add(1)
	if removed {
		c.mu.Lock()
		delete(c.items, key)
		c.mu.Unlock()
		return
	}
	it, err := decodeItem(key, value)
	if err != nil {
		c.rejected.Add(1)
		c.log.Warn("catalogue: skipping product record", "key", key, "err", err)
		return
	}
	c.mu.Lock()
	c.items[key] = it
	c.mu.Unlock()
}

func decodeItem(key string, data []byte) (*Item, error) {
	var rec topology.ProductRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("decode product record %s: %w", key, err)
	}
	p := rec.Product
	if p.ID != "" && p.ID != key {
		return nil, fmt.Errorf("decode product record %s: product id %q differs from its key", key, p.ID)
	}
	return &Item{
		ID:         key,
		Title:      p.Title,
		Category:   slices.Clone(p.Category),
		Price:      p.Price,
		Currency:   p.Currency,
		Attributes: p.Attributes,
		Media:      slices.Clone(p.Media),
		State:      rec.State,
		UploadedAt: rec.UploadedAt,
		Revision:   rec.Revision,
	}, nil
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
	return consume(ctx, cons, func(msg jetstream.Msg) {
		op := msg.Headers().Get("KV-Operation")
		c.apply(strings.TrimPrefix(msg.Subject(), prefix), op == "DEL" || op == "PURGE", msg.Data())
		if meta, err := msg.Metadata(); err == nil && (meta.Sequence.Stream >= startSeq || meta.NumPending == 0) {
			c.markReady()
		}
	}, c.log)
}

// sampleSelectivity estimates the fraction of catalogue items accepted by
// match from up to n items (Go's map order is randomised per range).
func (c *catalog) sampleSelectivity(match func(*Item) bool, n int) float64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	total := len(c.items)
	if total == 0 {
		return 1
	}
	seen, hit := 0, 0
	for _, it := range c.items {
		if seen == n {
			break
		}
		seen++
		if match(it) {
			hit++
		}
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

// each calls f for every item under the read lock.
func (c *catalog) each(f func(*Item)) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, it := range c.items {
		f(it)
	}
}
