package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed/natstest"
)

// fetch with a wait returns as soon as one job is there, with what else
// is already queued, instead of waiting for a full batch: a lone live job
// must not sit in the queue for the fetch's wait.
func TestFetchTakesWhatIsThereWithoutWaitingForAFullBatch(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "J", Subjects: []string{"j.>"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, "J", jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(n int) {
		for i := range n {
			if _, err := js.Publish(ctx, "j.x", fmt.Appendf(nil, "%d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A wait far longer than the test's own limit: a fetch that waited
	// for its batch to fill would hang here, not return.
	const wait = time.Hour
	fetchNow := func(n int) []jetstream.Msg {
		t.Helper()
		type res struct {
			msgs []jetstream.Msg
			err  error
		}
		done := make(chan res, 1)
		go func() {
			m, err := fetch(cons, n, wait)
			done <- res{m, err}
		}()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatal(r.err)
			}
			for _, m := range r.msgs {
				_ = m.Ack()
			}
			return r.msgs
		case <-time.After(time.Minute):
			t.Fatalf("fetch(%d) still waiting a minute after its jobs were queued", n)
			return nil
		}
	}
	for _, tc := range []struct {
		name            string
		queued, n, want int
	}{
		{"one job, batch of 16", 1, 16, 1},
		{"three jobs, batch of 16", 3, 16, 3},
		{"twenty jobs, batch of 16", 20, 16, 16},
		{"the four left over", 0, 16, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			publish(tc.queued)
			if got := fetchNow(tc.n); len(got) != tc.want {
				t.Fatalf("fetch(%d) with %d queued took %d jobs, want %d", tc.n, tc.queued, len(got), tc.want)
			}
		})
	}
	// Nothing queued, no wait: nothing, at once.
	if got, err := fetch(cons, 16, 0); err != nil || len(got) != 0 {
		t.Fatalf("fetch with nothing queued = %d jobs, %v", len(got), err)
	}
}
