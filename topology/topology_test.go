package topology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed/natstest"
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
	js := natstest.JetStream(t)
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

// PullGroups hands a key's waiting messages over together, in order; a
// held group comes back joined by the key's later messages; other keys do
// not wait for it; and every message is settled once.
// TestEnsureDeletesRetiredConsumers: the never-read "ranker-feedback"
// durable an older release created, whose backlog only grew, is deleted,
// and no declared consumer reads FEEDBACK any more.
func TestEnsureDeletesRetiredConsumers(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	if err := Ensure(ctx, js, DefaultOptions(), Modalities); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, StreamFeedback, jetstream.ConsumerConfig{
		Durable: "ranker-feedback", FilterSubject: "feedback.>", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(ctx, js, DefaultOptions(), Modalities); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Consumer(ctx, StreamFeedback, "ranker-feedback"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("ranker-feedback after Ensure: %v, want ErrConsumerNotFound", err)
	}
	for key := range Consumers(DefaultOptions(), Modalities) {
		if strings.HasPrefix(key, StreamFeedback+"/") {
			t.Errorf("topology still declares %s", key)
		}
	}
}

func TestPullGroupsJoinsAndHolds(t *testing.T) {
	js := natstest.JetStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.*"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "T", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingConsumer{Consumer: cons}
	var keyed atomic.Int64 // messages PullGroups has read and keyed
	publish := func(key string, n int) {
		t.Helper()
		for i := range n {
			if _, err := js.Publish(ctx, "t."+key, []byte(fmt.Sprintf("%s%d", key, i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	type call struct {
		key  string
		data []string
	}
	calls := make(chan call, 100)
	release := make(chan struct{})
	handle := func(g Group) time.Duration {
		c := call{key: g.Key}
		for _, m := range g.Msgs {
			c.data = append(c.data, string(m.Data()))
		}
		if g.Key == "a" && len(g.Msgs) < 5 {
			calls <- c
			return time.Hour // held until the rest of "a" arrives
		}
		for _, m := range g.Msgs {
			if err := m.DoubleAck(ctx); err != nil {
				t.Errorf("ack %s: %v", m.Data(), err)
			}
		}
		calls <- c
		if g.Key == "b" {
			<-release
		}
		return 0
	}
	publish("a", 2)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := PullGroups(ctx, PullConfig{Consumer: counted, Role: "test", Batch: 16, FetchWait: 100 * time.Millisecond,
			Key: func(m jetstream.Msg) string { keyed.Add(1); return m.Subject()[2:] }, Logger: quietLog()}, handle)
		if err != nil {
			t.Error(err)
		}
	}()
	next := func() call {
		t.Helper()
		select {
		case c := <-calls:
			return c
		case <-time.After(30 * time.Second):
			t.Fatal("no handler call")
			return call{}
		}
	}
	// "a" is held; "c" (same worker) goes through meanwhile.
	for got := next(); len(got.data) < 2; got = next() {
		if got.key != "a" {
			t.Fatalf("first call %+v, want key a", got)
		}
	}
	publish("c", 1)
	if got := next(); got.key != "c" || !slices.Equal(got.data, []string{"c0"}) {
		t.Fatalf("while a is held: %+v, want c0", got)
	}
	// "b" blocks the worker while more "a" and "b" arrive: afterwards each
	// key's waiting messages come as one group, in order.
	publish("b", 1)
	if got := next(); got.key != "b" {
		t.Fatalf("got %+v, want b", got)
	}
	publish("a", 3)
	publish("b", 2)
	// All nine messages keyed, and a later fetch begun: the fetch loop
	// starts the next fetch only after it has handed every message of the
	// previous one to its lane, so the burst is waiting there. (The
	// server's ack-pending count was not enough: a delivered message could
	// still be on its way to the lane and form a group of its own.)
	waitHandedOver(t, &keyed, 9, counted)
	close(release)
	want := map[string][]string{"a": {"a0", "a1", "a0", "a1", "a2"}, "b": {"b0", "b1"}}
	for range 2 {
		got := next()
		if w := want[got.key]; w == nil || !slices.Equal(got.data, w) {
			t.Fatalf("after the burst: %+v, want %v", got, want)
		}
		delete(want, got.key)
	}
	cancel()
	<-done
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumPending != 0 || info.Delivered.Consumer != 9 {
		t.Fatalf("consumer: %d ack pending, %d pending, %d deliveries; want every message settled once (9 deliveries)",
			info.NumAckPending, info.NumPending, info.Delivered.Consumer)
	}
}

// countingConsumer counts the fetches PullGroups starts.
type countingConsumer struct {
	jetstream.Consumer
	fetches atomic.Int64
}

func (c *countingConsumer) Fetch(batch int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	c.fetches.Add(1)
	return c.Consumer.Fetch(batch, opts...)
}

// waitHandedOver waits until n messages have been keyed and a fetch has
// started after that, so every keyed message is in its lane.
func waitHandedOver(t *testing.T, keyed *atomic.Int64, n int64, c *countingConsumer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for keyed.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages keyed", keyed.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	after := c.fetches.Load()
	for c.fetches.Load() == after {
		if time.Now().After(deadline) {
			t.Fatal("no fetch after the last message was keyed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Streams and buckets are created with the requested replicas; existing
// ones keep theirs and the difference is reported (a single server cannot
// hold 3 replicas: Ensure would fail if it tried to rescale).
func TestEnsureKeepsAndReportsReplicas(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	if err := Ensure(ctx, js, DefaultOptions(), Modalities); err != nil {
		t.Fatal(err)
	}
	if ms, err := ReplicaMismatches(ctx, js, DefaultOptions()); err != nil || len(ms) != 0 {
		t.Fatalf("mismatches at 1 replica: %v, %v", ms, err)
	}
	three := DefaultOptions()
	three.Replicas = 3
	if err := Ensure(ctx, js, three, Modalities); err != nil {
		t.Fatalf("Ensure with 3 replicas over existing single-replica streams: %v", err)
	}
	ms, err := ReplicaMismatches(ctx, js, three)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(Streams(three)) + len(KeyValues(three)); len(ms) != want {
		t.Fatalf("%d mismatches, want %d: %v", len(ms), want, ms)
	}
	for _, m := range ms {
		if m.Have != 1 || m.Want != 3 {
			t.Errorf("%v", m)
		}
	}
	for _, sc := range Streams(three) {
		if sc.Replicas != 3 {
			t.Errorf("stream %s configured with %d replicas", sc.Name, sc.Replicas)
		}
	}
	for _, kc := range KeyValues(three) {
		if kc.Replicas != 3 {
			t.Errorf("kv %s configured with %d replicas", kc.Bucket, kc.Replicas)
		}
	}
}
