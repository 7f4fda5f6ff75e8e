package server

import (
	"context"
	"testing"
	"time"

	"github.com/omnirank/omnirank/learn"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/topology"
)

// A server with the ranker role hot-loads a published ranker model and
// goes back to the hand weights when it is deleted.
func TestServerHotLoadsRankerModel(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	js := e.srv.JetStream()
	m := &learn.Model{Format: learn.ModelFormat, Features: []string{"cosine", learn.PositionFeature},
		Means: []float64{0.3, 2}, Stds: []float64{0.1, 1}, Weights: []float64{1.5, -0.5}}
	rev, err := learn.Publish(ctx, js, m)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the published model loaded", func() bool {
		s, ok := e.srv.Ranker().Scorer().(*learn.Scorer)
		return ok && s.Model().Weights[0] == 1.5
	})
	kv, err := js.KeyValue(ctx, topology.BucketRankerModels)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, topology.RankerModelKey); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "back to the hand weights", func() bool {
		_, ok := e.srv.Ranker().Scorer().(ranker.LinearScorer)
		return ok
	})
	t.Logf("model revision %d loaded, then deleted", rev)
}
