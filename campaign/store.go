package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// ErrNoCampaign is returned when no campaign was ever started (or the last
// one was archived).
var ErrNoCampaign = errors.New("no campaign")

// store reads and writes the campaign record with compare-and-swap, so a
// controller and an operator's command never overwrite each other.
type store struct{ kv jetstream.KeyValue }

func openStore(ctx context.Context, js jetstream.JetStream) (*store, error) {
	kv, err := js.KeyValue(ctx, topology.BucketCampaigns)
	if err != nil {
		return nil, fmt.Errorf("open campaigns bucket: %w", err)
	}
	return &store{kv: kv}, nil
}

// get returns the current campaign and its KV revision.
func (s *store) get(ctx context.Context) (topology.Campaign, uint64, error) {
	e, err := s.kv.Get(ctx, topology.CampaignKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return topology.Campaign{}, 0, ErrNoCampaign
	}
	if err != nil {
		return topology.Campaign{}, 0, fmt.Errorf("read campaign: %w", err)
	}
	var c topology.Campaign
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return topology.Campaign{}, 0, fmt.Errorf("decode campaign: %w", err)
	}
	return c, e.Revision(), nil
}

// put writes c over revision rev (0: only if there is no campaign).
func (s *store) put(ctx context.Context, c topology.Campaign, rev uint64) (uint64, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("encode campaign: %w", err)
	}
	if rev == 0 {
		rev, err = s.kv.Create(ctx, topology.CampaignKey, data)
	} else {
		rev, err = s.kv.Update(ctx, topology.CampaignKey, data, rev)
	}
	if err != nil {
		return 0, fmt.Errorf("write campaign (changed concurrently?): %w", err)
	}
	return rev, nil
}

// update applies change to the current campaign with compare-and-swap,
// retrying when the record changed underneath. change returns an error
// to refuse (nothing is written).
func (s *store) update(ctx context.Context, change func(*topology.Campaign) error) (topology.Campaign, error) {
	for attempt := 0; ; attempt++ {
		c, rev, err := s.get(ctx)
		if err != nil {
			return c, err
		}
		if err := change(&c); err != nil {
			return c, err
		}
		if _, err := s.put(ctx, c, rev); err != nil {
			if attempt < 10 && errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
				continue
			}
			return c, err
		}
		return c, nil
	}
}

// archive moves the current campaign (at revision rev) to its history key.
func (s *store) archive(ctx context.Context, c topology.Campaign, rev uint64) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode campaign: %w", err)
	}
	if _, err := s.kv.Put(ctx, topology.CampaignHistoryKey(c.Space), data); err != nil {
		return fmt.Errorf("archive campaign %s: %w", c.Space, err)
	}
	if err := s.kv.Delete(ctx, topology.CampaignKey, jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("close campaign %s: %w", c.Space, err)
	}
	return nil
}
