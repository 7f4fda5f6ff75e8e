package topology

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Pull fetches messages from a durable consumer in batches and hands each
// to handle until ctx ends. Fetch errors (a NATS restart, say) are logged
// and retried after a pause: a role's loop never dies of a transient error.
func Pull(ctx context.Context, cons jetstream.Consumer, batch int, wait time.Duration, log *slog.Logger, role string, handle func(jetstream.Msg)) {
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
			handle(msg)
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
