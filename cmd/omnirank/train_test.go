package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/learn"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/topology"
)

// publishShoppers logs impressions of shoppers who click the products
// whose image similarity is high (and look at the top slots more) with
// their feedback, through the streams.
func publishShoppers(t *testing.T, ctx context.Context, js jetstream.JetStream, at time.Time) {
	t.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	for r := range 600 {
		user := fmt.Sprintf("u%02d", rng.IntN(60))
		imp := topology.Impression{RequestID: fmt.Sprintf("r%04d", r), UserID: user, Query: "text", Space: "default", Time: at.Add(time.Duration(r) * time.Second)}
		for i := range 8 {
			text, image := rng.Float32()*0.5, rng.Float32()*0.5
			id := fmt.Sprintf("p%03d", rng.IntN(500))
			imp.Results = append(imp.Results, topology.ImpressionResult{ProductID: id, Position: i + 1,
				Features: map[string]float32{"cosine": text + image, "block:text": text, "block:image": image, "popularity": rng.Float32()}})
			if rng.Float32() < 1/float32(i+1) && rng.Float32() < 2*image {
				data, _ := json.Marshal(topology.Feedback{UserID: user, ProductID: id, Kind: "click", Time: imp.Time, RequestID: imp.RequestID})
				if _, err := js.Publish(ctx, topology.FeedbackSubject("click", user), data); err != nil {
					t.Fatal(err)
				}
			}
		}
		data, _ := json.Marshal(imp)
		if _, err := js.Publish(ctx, topology.ImpressionSubject(user), data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCLITrainRanker(t *testing.T) {
	ctx := t.Context()
	js := natstest.JetStream(t)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), nil); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tf := trainFlags{cfg: learn.DefaultConfig(), since: time.Hour}
	var out bytes.Buffer
	if err := trainRanker(ctx, js, tf, now, &out); err == nil || !strings.Contains(err.Error(), "no impressions") {
		t.Fatalf("empty streams: %v", err)
	}
	publishShoppers(t, ctx, js, now.Add(-2*time.Hour)) // older than --since
	if err := trainRanker(ctx, js, tf, now, &out); err == nil || !strings.Contains(err.Error(), "no impressions") {
		t.Fatalf("only old impressions: %v", err)
	}
	publishShoppers(t, ctx, js, now.Add(-30*time.Minute))
	if _, err := js.Publish(ctx, topology.ImpressionSubject("x"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	tf.out, tf.publish = filepath.Join(t.TempDir(), "model.json"), true
	out.Reset()
	if err := trainRanker(ctx, js, tf, now, &out); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	for _, want := range []string{"read 600 impressions", "older than --since", "1 malformed", "held-out NDCG@10", "block:image", "published as revision 1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	data, err := os.ReadFile(tf.out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := learn.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Report.Join.Impressions != 600 || !(m.Report.HeldoutLoss < m.Report.BaseHeldoutLoss) {
		t.Fatalf("model report %+v", m.Report)
	}
	kv, err := js.KeyValue(ctx, topology.BucketRankerModels)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, topology.RankerModelKey)
	if err != nil {
		t.Fatal(err)
	}
	if pub, err := learn.Decode(e.Value()); err != nil || pub.Bias != m.Bias {
		t.Fatalf("published model: %v (bias %v, want %v)", err, pub.Bias, m.Bias)
	}
	if err := run(ctx, []string{"train", "ranker"}, &out, &out); err == nil || !strings.Contains(err.Error(), "--nats-url") {
		t.Fatalf("without --nats-url: %v", err)
	}
}
