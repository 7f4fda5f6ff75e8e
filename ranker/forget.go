package ranker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// ForgetResult says what ForgetUser erased.
type ForgetResult struct {
	// Purged is the number of the user's events removed from the per-user
	// subjects, Deleted those found (and securely deleted) on the older
	// feedback.<kind> subjects.
	Purged, Deleted uint64
	// Impressions is the number of impressions of the user's requests
	// purged from the IMPRESSIONS stream.
	Impressions uint64
	// Seq is the FEEDBACK sequence the tombstone covers: rankers drop the
	// user's events up to it.
	Seq uint64
}

// ForgetUser erases a user's feedback: it purges the user's per-user
// subjects (feedback.*.<token>), deletes their events on the older
// feedback.<kind> subjects (a scan of those), purges the impressions of
// the user's requests (impressions.<token>), and then records a tombstone
// in the forgotten bucket, which every ranker follows: each drops the
// user's history at once and rebuilds popularity and co-occurrence from
// the purged stream. It is idempotent. Ranker snapshots hold index
// vectors and product revisions only, never feedback, so there is nothing
// of the user to remove there.
func ForgetUser(ctx context.Context, js jetstream.JetStream, user string, now time.Time) (ForgetResult, error) {
	var res ForgetResult
	if err := validID("user_id", user); err != nil {
		return res, fmt.Errorf("forget user: %w", err)
	}
	stream, err := js.Stream(ctx, topology.StreamFeedback)
	if err != nil {
		return res, fmt.Errorf("forget user: open stream %s: %w", topology.StreamFeedback, err)
	}
	if res.Purged, err = purgeSubject(ctx, js, topology.StreamFeedback, topology.FeedbackUserFilter(user)); err != nil {
		return res, fmt.Errorf("forget user: %w", err)
	}
	if res.Impressions, err = purgeSubject(ctx, js, topology.StreamImpressions, topology.ImpressionSubject(user)); err != nil {
		return res, fmt.Errorf("forget user: %w", err)
	}
	legacy, err := stream.Info(ctx, jetstream.WithSubjectFilter("feedback.*"))
	if err != nil {
		return res, fmt.Errorf("forget user: stream info: %w", err)
	}
	if len(legacy.State.Subjects) > 0 {
		err := topology.Scan(ctx, js, topology.StreamFeedback, "feedback.*", func(m jetstream.Msg) error {
			var fb topology.Feedback
			if json.Unmarshal(m.Data(), &fb) != nil || fb.UserID != user {
				return nil
			}
			meta, err := m.Metadata()
			if err != nil {
				return err
			}
			if err := stream.SecureDeleteMsg(ctx, meta.Sequence.Stream); err != nil {
				return fmt.Errorf("delete event %d: %w", meta.Sequence.Stream, err)
			}
			res.Deleted++
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("forget user: %w", err)
		}
	}
	after, err := stream.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("forget user: stream info: %w", err)
	}
	res.Seq = after.State.LastSeq
	kv, err := js.KeyValue(ctx, topology.BucketForgotten)
	if err != nil {
		return res, fmt.Errorf("forget user: open bucket %s: %w", topology.BucketForgotten, err)
	}
	data, err := json.Marshal(topology.Forgotten{Seq: res.Seq, Time: now.UTC()})
	if err != nil {
		return res, fmt.Errorf("forget user: %w", err)
	}
	if _, err := kv.Put(ctx, topology.FeedbackUserToken(user), data); err != nil {
		return res, fmt.Errorf("forget user: record tombstone: %w", err)
	}
	return res, nil
}

// purgeSubject purges the messages of stream matching filter and returns
// how many there were.
func purgeSubject(ctx context.Context, js jetstream.JetStream, name, filter string) (uint64, error) {
	stream, err := js.Stream(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("open stream %s: %w", name, err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", name, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if n > 0 {
		if err := stream.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
			return 0, fmt.Errorf("purge %s %s: %w", name, filter, err)
		}
	}
	return n, nil
}
