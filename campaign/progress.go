package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// tracker counts a campaign's progress from what the pipeline stored: the
// catalogue records (KV products), the space's embeddings (fusion's output)
// and its features (for rejected inputs). It follows all three with
// watchers, so counting costs no round trip per product.
type tracker struct {
	space spaces.Space

	mu       sync.Mutex
	records  map[string]map[string]string // product -> modality -> content hash (the space's modalities)
	inputs   map[string]string            // product -> Embedding.Inputs ("" for a tombstone)
	rejected map[string]map[string]string // product -> modality -> content hash an extractor rejected
	// ready: the catalogue watcher has caught up once. Until then the
	// total is too low; lagging embeddings or features only make the
	// counts lower, never a campaign done early.
	ready bool
}

func newTracker(space spaces.Space) *tracker {
	return &tracker{space: space, records: map[string]map[string]string{}, inputs: map[string]string{},
		rejected: map[string]map[string]string{}}
}

// follow starts the watchers; they stop when ctx ends. The returned
// function waits for them.
func (t *tracker) follow(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (func(), error) {
	kv, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		return nil, fmt.Errorf("open products bucket: %w", err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch products: %w", err)
	}
	done := topology.FollowKV(ctx, w, t.record)
	waits := []func(){func() { <-done }}
	for _, f := range []struct {
		stream, filter string
		handle         func(jetstream.Msg)
	}{
		{topology.StreamEmb, topology.EmbFilter(t.space.Name), t.embedding},
		{topology.StreamFeatures, topology.FeaturesFilter(t.space.Name), t.features},
	} {
		cons, err := js.OrderedConsumer(ctx, f.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{f.filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
		if err != nil {
			return nil, fmt.Errorf("follow %s: %w", f.filter, err)
		}
		wait, err := topology.Consume(ctx, cons, f.handle, log.With("consumer", "campaign-progress", "filter", f.filter))
		if err != nil {
			return nil, fmt.Errorf("follow %s: %w", f.filter, err)
		}
		waits = append(waits, wait)
	}
	return func() {
		for _, w := range waits {
			w()
		}
	}, nil
}

func (t *tracker) record(e jetstream.KeyValueEntry) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e == nil {
		t.ready = true
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(t.records, e.Key())
		return
	}
	var rec topology.ProductRecord
	if json.Unmarshal(e.Value(), &rec) != nil {
		return
	}
	hashes := eligible(t.space, rec)
	if hashes == nil {
		delete(t.records, e.Key())
		return
	}
	t.records[e.Key()] = hashes
}

// eligible returns the content hashes of a record's inputs the space
// encodes, or nil when the product has none or was rejected by ingest.
func eligible(sp spaces.Space, rec topology.ProductRecord) map[string]string {
	if rec.State == topology.StateFailed && rec.Error != "" && len(rec.Hashes) == 0 {
		return nil
	}
	var out map[string]string
	for _, b := range sp.Blocks {
		if h, ok := rec.Hashes[b.Modality]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[b.Modality] = h
		}
	}
	return out
}

func (t *tracker) embedding(m jetstream.Msg) {
	var e topology.Embedding
	if json.Unmarshal(m.Data(), &e) != nil || e.ProductID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Deleted {
		t.inputs[e.ProductID] = ""
		return
	}
	t.inputs[e.ProductID] = e.Inputs
}

func (t *tracker) features(m jetstream.Msg) {
	var f topology.Features
	if json.Unmarshal(m.Data(), &f) != nil || f.ProductID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.rejected[f.ProductID]
	if f.Rejected == "" {
		delete(r, f.Modality)
		return
	}
	if r == nil {
		r = map[string]string{}
		t.rejected[f.ProductID] = r
	}
	r[f.Modality] = f.ContentHash
}

// counts is a campaign's progress.
type counts struct {
	Done, Total, Failed int
	Ready               bool // the catalogue is known in full
}

// count says how many products of the catalogue are done (an embedding in
// the space fused from exactly their current inputs), failed (an input of
// their current content was rejected by an extractor) and in all.
func (t *tracker) count() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := counts{Total: len(t.records), Ready: t.ready}
	for id, hashes := range t.records {
		want := hashes
		if rej := t.rejected[id]; len(rej) > 0 {
			failed := false
			for m, h := range rej {
				if hashes[m] == h {
					failed = true
				}
			}
			if failed {
				c.Failed++
				continue
			}
		}
		if in, ok := t.inputs[id]; ok && in != "" && in == topology.InputsDigest(want) {
			c.Done++
		}
	}
	return c
}
