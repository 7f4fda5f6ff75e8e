package campaign

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// freshness measures live freshness from NATS, so it works whichever
// processes run ingest, the extractors and fusion: for every embedding
// newly published into the active space, the time from its newest input's
// upload (Embedding.UploadedAt) to the message's arrival in the stream.
// Samples taken while no campaign runs on this controller are the idle
// baseline; the campaign slows down whenever a live sample taken during it
// exceeds twice the baseline's p99.
type freshness struct {
	active atomic.Pointer[string]
	idle   atomic.Bool

	mu      sync.Mutex
	base    []time.Duration // idle samples, newest last
	fresh   []time.Duration // samples during a campaign, since the last take
	maxBase int
}

func newFreshness() *freshness {
	f := &freshness{maxBase: 256}
	f.idle.Store(true)
	return f
}

// follow reads new embeddings until ctx ends; the returned function waits.
func (f *freshness) follow(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (func(), error) {
	cons, err := js.OrderedConsumer(ctx, topology.StreamEmb, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"emb.>"}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return nil, fmt.Errorf("follow embeddings: %w", err)
	}
	return topology.Consume(ctx, cons, f.handle, log.With("consumer", "campaign-freshness"))
}

func (f *freshness) handle(m jetstream.Msg) {
	active := f.active.Load()
	space, _, ok := topology.ProductFromEmbSubject(m.Subject())
	if active == nil || !ok || space != *active {
		return
	}
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	var e topology.Embedding
	if json.Unmarshal(m.Data(), &e) != nil || e.Deleted || e.UploadedAt.IsZero() {
		return
	}
	lat := meta.Timestamp.Sub(e.UploadedAt)
	if lat < 0 || lat > 10*time.Minute {
		return // clocks apart, or a replay: not a live upload
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.idle.Load() {
		f.base = append(f.base, lat)
		if len(f.base) > f.maxBase {
			f.base = f.base[len(f.base)-f.maxBase:]
		}
		return
	}
	if len(f.fresh) < 1024 {
		f.fresh = append(f.fresh, lat)
	}
}

// setActive names the active space; setIdle says whether a campaign runs.
func (f *freshness) setActive(space string) { f.active.Store(&space) }
func (f *freshness) setIdle(idle bool)      { f.idle.Store(idle) }

// target is twice the idle p99, or 0 with fewer than 5 idle samples.
func (f *freshness) target() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.base) < 5 {
		return 0
	}
	s := slices.Clone(f.base)
	slices.Sort(s)
	return 2 * s[(len(s)*99+99)/100-1]
}

// tooSlow reports whether a live sample since the last call exceeded
// target (never with no target).
func (f *freshness) tooSlow(target time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	slow := false
	for _, d := range f.fresh {
		slow = slow || (target > 0 && d > target)
	}
	f.fresh = f.fresh[:0]
	return slow
}
