package api

import (
	"context"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed/natstest"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// startJetStream starts an embedded NATS server with omnirank's topology.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	js := natstest.JetStream(t)
	if err := topology.Ensure(context.Background(), js, topology.DefaultOptions(), topology.Modalities); err != nil {
		t.Fatal(err)
	}
	return js
}

// putRecord writes a product record in the given state.
func putRecord(t *testing.T, kv jetstream.KeyValue, id string, state topology.ProductState) {
	t.Helper()
	data, err := json.Marshal(topology.ProductRecord{Revision: 1, State: state, Hashes: map[string]string{"text": "h"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), id, data); err != nil {
		t.Fatal(err)
	}
}

func TestStatusCountsStatesAndDeadLetters(t *testing.T) {
	type rec struct {
		id    string
		state topology.ProductState
	}
	tests := []struct {
		name        string
		records     []rec    // written in order; a later write of an id replaces it
		deleted     []string // ids deleted after the writes
		raw         map[string]string
		deadLetters int
		want        map[string]int64
	}{
		{name: "empty", want: map[string]int64{}},
		{
			name: "mixed",
			records: []rec{{"a", topology.StatePending}, {"a", topology.StateIndexed}, {"b", topology.StateIndexed},
				{"c", topology.StatePartial}, {"d", topology.StateFailed}, {"e", topology.StatePending},
				{"gone", topology.StateIndexed}, {"f", "archived"}},
			deleted:     []string{"gone"},
			raw:         map[string]string{"junk": "not json"},
			deadLetters: 3,
			want: map[string]int64{"indexed": 2, "partial": 1, "failed": 1, "pending": 1,
				"archived": 1, unknownState: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := startJetStream(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			kv, err := js.KeyValue(ctx, topology.BucketProducts)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.records {
				putRecord(t, kv, r.id, r.state)
			}
			for k, v := range tt.raw {
				if _, err := kv.PutString(ctx, k, v); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range tt.deleted {
				if err := kv.Delete(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.deadLetters {
				if _, err := js.Publish(ctx, topology.DLQSubject("extract-image"), []byte(`{"stage":"extract-image"}`)); err != nil {
					t.Fatal(err)
				}
			}
			svc, err := NewAdmin(ctx, js, nil)
			if err != nil {
				t.Fatal(err)
			}
			st, err := svc.Status(ctx, &pb.StatusRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(st.GetStates(), tt.want) {
				t.Errorf("states %v, want %v", st.GetStates(), tt.want)
			}
			var total int64
			for _, n := range tt.want {
				total += n
			}
			if st.GetProducts() != total {
				t.Errorf("products %d, want %d", st.GetProducts(), total)
			}
			if st.GetDeadLetters() != int64(tt.deadLetters) {
				t.Errorf("dead letters %d, want %d", st.GetDeadLetters(), tt.deadLetters)
			}
		})
	}
}

// A request whose context is already done fails instead of reporting
// partial counts.
func TestProductStatesHonoursContext(t *testing.T) {
	js := startJetStream(t)
	kv, err := js.KeyValue(context.Background(), topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	putRecord(t, kv, "a", topology.StateIndexed)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := productStates(ctx, kv); err == nil {
		t.Fatal("productStates succeeded with a cancelled context")
	}
}
