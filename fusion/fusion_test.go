package fusion_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/fusion"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// Fusion waits differently for a product's missing block in the active
// space (it asks to look again: the product becomes searchable from what it
// has once the wait is over) and in a space a campaign is building (it
// never waits: nothing is fused from part of the blocks, and the missing
// block's own arrival fuses the product, exactly once).
func TestFuseWaitsInTheActiveSpaceOnlyAndFusesACampaignSpaceOnce(t *testing.T) {
	ctx := context.Background()
	js := natstest.JetStream(t)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), []string{"text", "image"}); err != nil {
		t.Fatal(err)
	}
	st, err := spaces.NewStore(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	blocks := []spaces.Block{{Modality: "text", Model: "t@1", Dim: 2, Weight: 1}, {Modality: "image", Model: "i@1", Dim: 2, Weight: 1}}
	for _, name := range []string{"live", "next"} {
		if err := st.Put(ctx, spaces.Space{Name: name, Blocks: blocks}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetActive(ctx, "live", 0); err != nil {
		t.Fatal(err)
	}
	products, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	rec := topology.ProductRecord{Revision: 1, Hashes: map[string]string{"text": "ht", "image": "hi"},
		State: topology.StatePending, UploadedAt: now, UpdatedAt: now}
	data, _ := json.Marshal(rec)
	if _, err := products.Put(ctx, "p1", data); err != nil {
		t.Fatal(err)
	}
	publish := func(space, modality, model, hash string) {
		t.Helper()
		ft := topology.Features{ProductID: "p1", Space: space, Modality: modality, Model: model, Revision: 1,
			ContentHash: hash, Vector: topology.Vector{1, 0}, UploadedAt: now}
		data, _ := json.Marshal(ft)
		if _, err := js.Publish(ctx, topology.FeaturesSubject(space, "p1", modality), data); err != nil {
			t.Fatal(err)
		}
	}
	emb, err := js.Stream(ctx, topology.StreamEmb)
	if err != nil {
		t.Fatal(err)
	}
	embeddings := func(space string) uint64 {
		t.Helper()
		info, err := emb.Info(ctx, jetstream.WithSubjectFilter(topology.EmbSubject(space, "p1")))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[topology.EmbSubject(space, "p1")]
	}
	f, err := fusion.New(ctx, js, fusion.WithWait(time.Hour))
	if err != nil {
		t.Fatal(err)
	}

	// The image block alone, in both spaces.
	publish("live", "image", "i@1", "hi")
	publish("next", "image", "i@1", "hi")
	if wait, err := f.Fuse(ctx, "live", "p1"); err != nil || wait <= 0 {
		t.Fatalf("active space, text missing: Fuse = %v, %v; want a positive wait", wait, err)
	}
	if wait, err := f.Fuse(ctx, "next", "p1"); err != nil || wait != 0 {
		t.Fatalf("campaign space, text missing: Fuse = %v, %v; want no wait", wait, err)
	}
	// Stale features (another model's) count as missing too.
	publish("next", "text", "t@0", "ht")
	if wait, err := f.Fuse(ctx, "next", "p1"); err != nil || wait != 0 {
		t.Fatalf("campaign space, stale text: Fuse = %v, %v; want no wait", wait, err)
	}
	if n := embeddings("next"); n != 0 {
		t.Fatalf("campaign space: %d embeddings fused from part of the blocks, want none", n)
	}

	// The text block arrives: fused once, both blocks in.
	publish("next", "text", "t@1", "ht")
	for range 2 { // the second call finds it done
		if wait, err := f.Fuse(ctx, "next", "p1"); err != nil || wait != 0 {
			t.Fatalf("campaign space, complete: Fuse = %v, %v", wait, err)
		}
	}
	if n := embeddings("next"); n != 1 {
		t.Fatalf("campaign space: %d embeddings, want 1", n)
	}
	raw, err := emb.GetLastMsgForSubject(ctx, topology.EmbSubject("next", "p1"))
	if err != nil {
		t.Fatal(err)
	}
	var e topology.Embedding
	if err := json.Unmarshal(raw.Data, &e); err != nil || len(e.Blocks) != 2 {
		t.Fatalf("campaign space embedding: %d blocks (%v), want text and image", len(e.Blocks), err)
	}
	// The active space's record is not the campaign's to change.
	got, err := products.Get(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	var after topology.ProductRecord
	if err := json.Unmarshal(got.Value(), &after); err != nil || after.State != topology.StatePending {
		t.Fatalf("product state %q after fusing the campaign space (%v), want it left pending", after.State, err)
	}
	if _, err := emb.GetLastMsgForSubject(ctx, topology.EmbSubject("live", "p1")); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("active space fused before its wait was over: %v", err)
	}
}
