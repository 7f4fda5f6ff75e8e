package learn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// Publish stores m as the newest ranker model (bucket
// topology.BucketRankerModels, key topology.RankerModelKey) and returns its
// revision; rankers that Follow the bucket load it.
func Publish(ctx context.Context, js jetstream.JetStream, m *Model) (uint64, error) {
	if err := m.Validate(); err != nil {
		return 0, fmt.Errorf("publish ranker model: %w", err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("publish ranker model: %w", err)
	}
	kv, err := js.KeyValue(ctx, topology.BucketRankerModels)
	if err != nil {
		return 0, fmt.Errorf("publish ranker model: open bucket %s: %w", topology.BucketRankerModels, err)
	}
	rev, err := kv.Put(ctx, topology.RankerModelKey, data)
	if err != nil {
		return 0, fmt.Errorf("publish ranker model: %w", err)
	}
	return rev, nil
}

// Follow hot-loads the newest published model until ctx ends: set gets
// each one's Scorer as it is published (and the current one at once), nil
// when the model is deleted (back to the configured scorer). A model that
// does not decode is logged and skipped: the scorer in use stays. set is
// meant to be ranker.Ranker.SetScorer, which swaps atomically.
func Follow(ctx context.Context, js jetstream.JetStream, set func(ranker.Scorer), log *slog.Logger) error {
	return topology.FollowKey(ctx, js, topology.BucketRankerModels, topology.RankerModelKey, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			log.Info("ranker model deleted; back to the configured scorer", "revision", e.Revision())
			set(nil)
			return
		}
		m, err := Decode(e.Value())
		if err == nil {
			var s *Scorer
			if s, err = m.Scorer(); err == nil {
				set(s)
				log.Info("ranker model loaded", "revision", e.Revision(), "features", len(m.Features),
					"heldout_log_loss", m.Report.HeldoutLoss, "ndcg_learned", m.Report.NDCGLearned, "ndcg_hand", m.Report.NDCGHand)
				return
			}
		}
		log.Error("ranker model rejected; keeping the scorer in use", "revision", e.Revision(), "err", err)
	})
}

// Revision returns the published model of the given revision of the
// ranker-models bucket (an A/B arm pins one: package experiment).
func Revision(ctx context.Context, js jetstream.JetStream, rev uint64) (*Model, error) {
	kv, err := js.KeyValue(ctx, topology.BucketRankerModels)
	if err != nil {
		return nil, fmt.Errorf("ranker model revision %d: open bucket %s: %w", rev, topology.BucketRankerModels, err)
	}
	e, err := kv.GetRevision(ctx, topology.RankerModelKey, rev)
	if err != nil {
		return nil, fmt.Errorf("ranker model revision %d: %w", rev, err)
	}
	m, err := Decode(e.Value())
	if err != nil {
		return nil, fmt.Errorf("ranker model revision %d: %w", rev, err)
	}
	return m, nil
}
