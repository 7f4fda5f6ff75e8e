package topology

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// FollowKey calls apply with every change of key in the KV bucket — its
// current value at once, then each put or delete (e.Operation() says
// which) — until ctx ends, when it returns nil. It returns an error when
// the bucket cannot be opened or watched, or when the watch ends while
// ctx is live (NATS gone for good), so that a role can restart it.
func FollowKey(ctx context.Context, js jetstream.JetStream, bucket, key string, apply func(jetstream.KeyValueEntry)) error {
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		return fmt.Errorf("follow %s/%s: open bucket: %w", bucket, key, err)
	}
	w, err := kv.Watch(ctx, key)
	if err != nil {
		return fmt.Errorf("follow %s/%s: watch: %w", bucket, key, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("follow %s/%s: watch ended", bucket, key)
			}
			if e != nil { // nil marks the end of the initial values
				apply(e)
			}
		}
	}
}
