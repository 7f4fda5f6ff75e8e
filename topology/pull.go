package topology

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Pull fetches messages from a durable consumer in batches and hands each
// to handle, on up to workers goroutines at once, until ctx ends; it
// returns once every handle call has returned. Fetch errors (a NATS
// restart, say) are logged and retried after a pause: a role's loop never
// dies of a transient error. Handlers must be safe to run concurrently (the
// roles' are: they write with compare-and-swap).
func Pull(ctx context.Context, cons jetstream.Consumer, batch int, wait time.Duration, workers int, log *slog.Logger, role string, handle func(jetstream.Msg)) {
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for msg := range work {
				handle(msg)
			}
		})
	}
	defer func() {
		close(work)
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
			work <- msg
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
