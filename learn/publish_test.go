package learn

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// TestPublishFollow: a follower gets each published model's scorer, skips
// a model that does not decode (keeping the one in use) and goes back to
// the configured scorer when the model is deleted.
func TestPublishFollow(t *testing.T) {
	js := natstest.JetStream(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), nil); err != nil {
		t.Fatal(err)
	}
	got := make(chan ranker.Scorer, 8)
	done := make(chan error, 1)
	go func() {
		done <- Follow(ctx, js, func(s ranker.Scorer) { got <- s }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	next := func() ranker.Scorer {
		t.Helper()
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no scorer from Follow")
			return nil
		}
	}
	model := func(w float64) *Model {
		return &Model{Format: ModelFormat, Features: []string{"cosine", PositionFeature}, Means: []float64{0, 2}, Stds: []float64{1, 1}, Weights: []float64{w, -1}}
	}
	if _, err := Publish(ctx, js, model(2)); err != nil {
		t.Fatal(err)
	}
	if s := next().(*Scorer); !slices.Equal(s.Model().Weights, []float64{2, -1}) {
		t.Fatalf("first model's weights %v", s.Model().Weights)
	}
	kv, err := js.KeyValue(ctx, topology.BucketRankerModels)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, topology.RankerModelKey, []byte(`{"format":1,"features":["price"]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, js, model(-3)); err != nil {
		t.Fatal(err)
	}
	if s := next().(*Scorer); s.Score(ranker.Features{Cosine: 1}) != -3 {
		t.Fatalf("after a bad model and a good one: score %v, want -3 (the bad one skipped)", s.Score(ranker.Features{Cosine: 1}))
	}
	if _, err := Publish(ctx, js, &Model{Format: ModelFormat}); err == nil {
		t.Fatal("Publish accepted an empty model")
	}
	if err := kv.Delete(ctx, topology.RankerModelKey); err != nil {
		t.Fatal(err)
	}
	if s := next(); s != nil {
		t.Fatalf("after delete: %v, want nil", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Follow: %v", err)
	}
}
