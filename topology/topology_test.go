package topology

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed"
)

func TestVectorJSONRoundTripIsExact(t *testing.T) {
	in := Vector{0, 1, -1, 3.1415927, float32(math.SmallestNonzeroFloat32), math.MaxFloat32}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Vector
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("len %d, want %d", len(out), len(in))
	}
	for i := range in {
		if math.Float32bits(in[i]) != math.Float32bits(out[i]) {
			t.Fatalf("element %d: %v, want %v", i, out[i], in[i])
		}
	}
	for _, bad := range []string{`"AAA="`, `12`, `"!!"`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	ns, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	for range 2 {
		if err := Ensure(ctx, js, DefaultOptions(), Modalities); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range Streams(DefaultOptions()) {
		if _, err := js.Stream(ctx, sc.Name); err != nil {
			t.Errorf("stream %s: %v", sc.Name, err)
		}
	}
	// The embedding store keeps one message per product.
	for range 3 {
		if _, err := js.Publish(ctx, EmbSubject("s", "p1"), []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := js.Stream(ctx, StreamEmb)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("EMB holds %d messages for one product, want 1", info.State.Msgs)
	}
	// Jobs are a work queue: an acked job is gone.
	if _, err := js.Publish(ctx, JobSubject("text", LaneLive), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	c, err := Consumer(ctx, js, StreamJobs, ExtractConsumer("text", LaneLive))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Fetch(1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range b.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	jst, _ := js.Stream(ctx, StreamJobs)
	jinfo, _ := jst.Info(ctx)
	if jinfo.State.Msgs != 0 {
		t.Fatalf("JOBS holds %d messages after ack, want 0", jinfo.State.Msgs)
	}
	if s, p, ok := ProductFromEmbSubject(EmbSubject("sp", "id-1")); !ok || s != "sp" || p != "id-1" {
		t.Fatalf("ProductFromEmbSubject: %q %q %v", s, p, ok)
	}
}
