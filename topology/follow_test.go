package topology_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/topology"
)

// TestFollowKey: the current value first, then every put and delete of
// the key (not of other keys), and nil once ctx ends.
func TestFollowKey(t *testing.T) {
	js := natstest.JetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "follow"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 8)
	fctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- topology.FollowKey(fctx, js, "follow", "k", func(e jetstream.KeyValueEntry) {
			if e.Operation() == jetstream.KeyValuePut {
				seen <- string(e.Value())
			} else {
				seen <- "deleted"
			}
		})
	}()
	next := func(want string) {
		t.Helper()
		select {
		case got := <-seen:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("no %q", want)
		}
	}
	next("v1")
	if _, err := kv.Put(ctx, "other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	next("v2")
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	next("deleted")
	stop()
	if err := <-done; err != nil {
		t.Fatalf("FollowKey after cancel: %v", err)
	}
	if err := topology.FollowKey(ctx, js, "no-such-bucket", "k", func(jetstream.KeyValueEntry) {}); err == nil {
		t.Fatal("FollowKey on a missing bucket: no error")
	}
}
