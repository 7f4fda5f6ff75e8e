package worker

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/topology"
)

// slowLoad stands in for the model registry where the test needs a model
// whose first load takes as long as the test says, which a real ONNX model
// cannot be made to do on cue: "new@1" loads until release is closed,
// "old@1" is loaded already. Everything else in the test is real (embedded
// NATS, the topology's streams and consumers, the worker).
type slowLoad struct {
	release chan struct{}
	mu      sync.Mutex
	calls   map[string]int
	called  chan string
}

func (s *slowLoad) Encoder(ctx context.Context, model string) (extractors.Encoder, error) {
	s.mu.Lock()
	s.calls[model]++
	s.mu.Unlock()
	s.called <- model
	if model == "new@1" {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return unitEncoder(model), nil
}

func (s *slowLoad) Loaded(model string) bool {
	if model == "new@1" {
		select {
		case <-s.release:
			return true
		default:
			return false
		}
	}
	return true
}

type unitEncoder string

func (unitEncoder) Modality() extractors.Modality { return extractors.Text }
func (e unitEncoder) Model() string               { return string(e) }
func (unitEncoder) Dim() int                      { return 2 }
func (unitEncoder) Close() error                  { return nil }
func (unitEncoder) Encode(_ context.Context, in [][]byte) ([][]float32, error) {
	out := make([][]float32, len(in))
	for i := range out {
		out[i] = []float32{1, 0}
	}
	return out, nil
}

// While the other loop loads a campaign's new model for a backfill batch,
// a live job for that model (a dual write) does not hold up the live-only
// loop: the next live job, for a loaded model, is encoded before the load
// ends, and the handed-off job is encoded once it does.
func TestLiveLoopHandsOffAModelStillLoading(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	js := natstest.JetStream(t)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), []string{"text"}); err != nil {
		t.Fatal(err)
	}
	enc := &slowLoad{release: make(chan struct{}), calls: map[string]int{}, called: make(chan string, 64)}
	w, err := New(ctx, js, nil, enc, extractors.Text, WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	publish := func(lane topology.Lane, space, product, model string) {
		t.Helper()
		job := topology.Job{ProductID: product, Space: space, Modality: "text", Model: model, Revision: 1,
			ContentHash: "h-" + product, Text: "a title"}
		data, _ := json.Marshal(job)
		if _, err := js.Publish(ctx, topology.JobSubject("text", lane), data); err != nil {
			t.Fatal(err)
		}
	}
	features, err := js.Stream(ctx, topology.StreamFeatures)
	if err != nil {
		t.Fatal(err)
	}
	// waitFeatures waits for a product's features; a minute without them
	// is the hang this test is about.
	waitFeatures := func(space, product string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; {
			_, err := features.GetLastMsgForSubject(ctx, topology.FeaturesSubject(space, product, "text"))
			if err == nil {
				return
			}
			if !errors.Is(err, jetstream.ErrMsgNotFound) {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("no features for %s in %s", product, space)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCall := func(model string) {
		t.Helper()
		for {
			select {
			case m := <-enc.called:
				if m == model {
					return
				}
			case <-time.After(time.Minute):
				t.Fatalf("no Encoder(%s) call", model)
			}
		}
	}

	publish(topology.LaneBackfill, "next", "b1", "new@1") // the mixed loop starts loading new@1
	waitCall("new@1")
	publish(topology.LaneLive, "next", "p1", "new@1") // a dual write for the new model
	publish(topology.LaneLive, "live", "p2", "old@1") // then a live upload in the active space
	waitFeatures("live", "p2")                        // while new@1 is still loading

	close(enc.release)
	waitFeatures("next", "b1")
	waitFeatures("next", "p1")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	enc.mu.Lock()
	defer enc.mu.Unlock()
	if enc.calls["old@1"] != 1 {
		t.Errorf("old@1 asked for %d times, want 1", enc.calls["old@1"])
	}
}
