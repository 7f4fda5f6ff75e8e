package topology

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Pull fetches messages from a durable consumer in batches and hands each
// to handle until ctx ends, then returns once every handle call has
// returned. Messages are spread over workers goroutines by key: messages
// with the same key (the same product) are handled one after another, in
// order, by the same goroutine, so a role never races itself on one
// product; different products proceed in parallel. Fetch errors (a NATS
// restart, say) are logged and retried after a pause: a role's loop never
// dies of a transient error.
func Pull(ctx context.Context, cons jetstream.Consumer, batch int, wait time.Duration, workers int, key func(jetstream.Msg) string,
	log *slog.Logger, role string, handle func(jetstream.Msg)) {
	lanes := make([]chan jetstream.Msg, max(workers, 1))
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan jetstream.Msg, batch)
		wg.Go(func() {
			for msg := range lanes[i] {
				handle(msg)
			}
		})
	}
	defer func() {
		for _, l := range lanes {
			close(l)
		}
		wg.Wait()
	}()
	for ctx.Err() == nil {
		msgs, err := cons.Fetch(batch, jetstream.FetchMaxWait(wait))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn(role+": fetch", "err", err)
			Sleep(ctx, time.Second)
			continue
		}
		for msg := range msgs.Messages() {
			h := fnv.New32a()
			_, _ = h.Write([]byte(key(msg)))
			lanes[h.Sum32()%uint32(len(lanes))] <- msg
		}
	}
}

// Sleep waits for d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
