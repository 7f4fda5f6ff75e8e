package topology

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// scanBatch is how many messages Scan fetches at once.
const scanBatch = 512

// Scan calls fn for every message of stream whose subject matches filter,
// in stream order, from the first message up to the stream's last sequence
// when Scan started (messages published later are not read). It stops at
// the first error fn returns. Messages need no ack (an ordered consumer).
func Scan(ctx context.Context, js jetstream.JetStream, stream, filter string, fn func(jetstream.Msg) error) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("scan %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("scan %s: info: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return fmt.Errorf("scan %s: consumer: %w", stream, err)
	}
	for {
		// NoWait: the batch ends with what is stored, so the loop can
		// drain it at once and leaves no fetch running.
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return fmt.Errorf("scan %s: fetch: %w", stream, err)
		}
		n, done, ferr := 0, false, error(nil)
		for m := range batch.Messages() {
			n++
			if done {
				continue
			}
			meta, err := m.Metadata()
			switch {
			case err != nil:
				ferr, done = fmt.Errorf("scan %s: metadata: %w", stream, err), true
			case meta.Sequence.Stream > last:
				done = true
			default:
				if err := fn(m); err != nil {
					ferr, done = err, true
				} else if meta.Sequence.Stream == last || meta.NumPending == 0 {
					done = true
				}
			}
		}
		if done || ferr != nil {
			return ferr
		}
		if err := batch.Error(); err != nil {
			return fmt.Errorf("scan %s: fetch: %w", stream, err)
		}
		if n == 0 {
			// Nothing more matches filter (the rest was deleted or
			// matches other subjects).
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan %s: %w", stream, err)
		}
	}
}

// ScanJSON is Scan decoding each message as JSON into a T: fn gets the
// decoded value; a message that does not decode is skipped and counted in
// *malformed.
func ScanJSON[T any](ctx context.Context, js jetstream.JetStream, stream, filter string, malformed *int, fn func(T) error) error {
	return Scan(ctx, js, stream, filter, func(m jetstream.Msg) error {
		var v T
		if json.Unmarshal(m.Data(), &v) != nil {
			*malformed++
			return nil
		}
		return fn(v)
	})
}
