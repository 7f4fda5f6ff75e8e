package topology

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/internal/option"
)

// Group is the messages of one key (one product) that a PullGroups handler
// gets at once, in arrival order.
type Group struct {
	Key  string
	Msgs []jetstream.Msg
	// Since is when the first of Msgs reached its worker.
	Since time.Time
}

// GroupHandler handles a group of messages of one key. It returns 0 once
// it has settled (acked, nakked or terminated) every message of the group.
// A positive hold asks for the same messages back, joined by any newer
// ones of the key, after hold or as soon as a newer one arrives, whichever
// comes first; the handler must then not have settled any of them. A
// handler that holds messages longer than the consumer's AckWait must tell
// the server so (jetstream.Msg.InProgress).
type GroupHandler func(g Group) (hold time.Duration)

// PullConfig configures PullGroups. Zero fields take the defaults noted.
type PullConfig struct {
	// Consumer is the durable consumer to fetch from (required).
	Consumer jetstream.Consumer
	// Role names the loop in its log lines (required), e.g. "ingest".
	Role string
	// Key maps a message to the key it is grouped and ordered by, the
	// product (required).
	Key func(jetstream.Msg) string
	// Batch is the most messages one fetch asks for (default 64).
	Batch int
	// FetchWait is the longest a fetch waits for its batch (default 1 s).
	FetchWait time.Duration
	// Workers is how many goroutines handle groups (default 1).
	Workers int
	// Logger receives fetch errors (default slog.Default()).
	Logger *slog.Logger
}

// Validate reports the first field out of range, wrapping option.ErrInvalid.
func (c PullConfig) Validate() error {
	switch {
	case c.Consumer == nil:
		return option.Errorf("pull: nil consumer")
	case c.Role == "":
		return option.Errorf("pull: empty role")
	case c.Key == nil:
		return option.Errorf("pull: nil key function")
	case c.Batch < 0:
		return option.Errorf("pull: batch %d < 0", c.Batch)
	case c.FetchWait < 0:
		return option.Errorf("pull: fetch wait %v < 0", c.FetchWait)
	case c.Workers < 0:
		return option.Errorf("pull: workers %d < 0", c.Workers)
	}
	return nil
}

func (c PullConfig) withDefaults() PullConfig {
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.FetchWait == 0 {
		c.FetchWait = time.Second
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// PullGroups fetches messages from a durable consumer in batches until ctx
// ends, then returns once every handler call has returned. Messages are
// spread over cfg.Workers goroutines by key: messages with the same key (the
// same product) are handled one group after another, in order, by the
// same goroutine, so a role never races itself on one product; different
// products proceed in parallel. Every message of a key that is waiting
// when its worker gets to it joins one group, so a burst of messages about
// one product (the three objects of an upload, say) costs one handler
// call; a handler may also hold a group for a short while to let the rest
// of a burst arrive (see GroupHandler). Fetch errors (a NATS restart, say)
// are logged and retried after a pause: a role's loop never dies of a
// transient error. When ctx ends, held groups are nakked for redelivery.
// It returns an error only for an invalid cfg, before fetching anything.
func PullGroups(ctx context.Context, cfg PullConfig, handle GroupHandler) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if handle == nil {
		return option.Errorf("pull: nil handler")
	}
	cfg = cfg.withDefaults()
	pullGroups(ctx, cfg, handle)
	return nil
}

func pullGroups(ctx context.Context, cfg PullConfig, handle GroupHandler) {
	cons, batch, wait, workers, key, log, role := cfg.Consumer, cfg.Batch, cfg.FetchWait, cfg.Workers, cfg.Key, cfg.Logger, cfg.Role
	lanes := make([]chan keyed, max(workers, 1))
	var wg sync.WaitGroup
	for i := range lanes {
		lanes[i] = make(chan keyed, batch)
		wg.Go(func() { runLane(lanes[i], handle) })
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
			_ = Sleep(ctx, time.Second)
			continue
		}
		for msg := range msgs.Messages() {
			k := key(msg)
			h := fnv.New32a()
			_, _ = h.Write([]byte(k))
			lanes[h.Sum32()%uint32(len(lanes))] <- keyed{key: k, msg: msg}
		}
	}
}

type keyed struct {
	key string
	msg jetstream.Msg
}

// pendingGroup is a group waiting in a lane: new (not yet handed to the
// handler with its latest messages) or held until due.
type pendingGroup struct {
	Group
	due   time.Time
	fresh bool
}

// runLane is one worker of PullGroups: it joins the waiting messages of a
// key into one group, hands groups to handle in the order their first
// message arrived, and keeps held groups until they are due or grow.
func runLane(in <-chan keyed, handle GroupHandler) {
	pending := map[string]*pendingGroup{}
	var order []string // keys of pending, by first arrival
	add := func(k keyed) {
		g := pending[k.key]
		if g == nil {
			g = &pendingGroup{Group: Group{Key: k.key, Since: time.Now()}}
			pending[k.key] = g
			order = append(order, k.key)
		}
		g.Msgs = append(g.Msgs, k.msg)
		g.fresh = true
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	closed := false
	for !closed || len(pending) > 0 {
		if len(pending) == 0 {
			k, ok := <-in
			if !ok {
				return
			}
			add(k)
		}
	drain:
		for !closed {
			select {
			case k, ok := <-in:
				if !ok {
					closed = true
					break drain
				}
				add(k)
			default:
				break drain
			}
		}
		if closed {
			// Shutting down: whatever is held goes back for redelivery.
			for _, g := range pending {
				if !g.fresh {
					for _, m := range g.Msgs {
						_ = m.Nak()
					}
					delete(pending, g.Key)
				}
			}
		}
		now := time.Now()
		var next time.Time
		kept := order[:0]
		for _, k := range order {
			g := pending[k]
			if g == nil {
				continue
			}
			if g.fresh || !now.Before(g.due) {
				g.fresh = false
				if hold := handle(g.Group); hold > 0 && !closed {
					g.due = time.Now().Add(hold)
				} else {
					if hold > 0 {
						for _, m := range g.Msgs {
							_ = m.Nak()
						}
					}
					delete(pending, k)
					continue
				}
			}
			if next.IsZero() || g.due.Before(next) {
				next = g.due
			}
			kept = append(kept, k)
		}
		order = kept
		if len(pending) == 0 || closed {
			continue
		}
		timer.Reset(time.Until(next))
		select {
		case k, ok := <-in:
			if ok {
				add(k)
			} else {
				closed = true
			}
		case <-timer.C:
		}
		timer.Stop() // since Go 1.23 a stopped timer's channel holds no stale tick
	}
}

// Sleep waits for d or until ctx ends, and then returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// FollowKV hands every update of a KV watcher (nil marks the end of the
// initial values) to apply, in order, from one goroutine, until ctx ends
// or the watcher closes; then it stops the watcher and closes the
// returned channel.
func FollowKV(ctx context.Context, w jetstream.KeyWatcher, apply func(jetstream.KeyValueEntry)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				apply(e)
			}
		}
	}()
	return done
}

// Consume runs handler over a consumer (an ordered one, typically) until
// ctx ends; consumer errors are logged, not fatal (an ordered consumer
// recreates itself). The returned function waits until it has stopped.
func Consume(ctx context.Context, cons jetstream.Consumer, handler func(jetstream.Msg), log *slog.Logger) (func(), error) {
	cc, err := cons.Consume(handler, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if ctx.Err() == nil {
			log.Warn("consumer error", "err", err)
		}
	}))
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		cc.Stop()
		<-cc.Closed()
	}()
	return func() { <-done }, nil
}
