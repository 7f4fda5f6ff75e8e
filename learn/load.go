package learn

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// LoadStats count what Load read and skipped.
type LoadStats struct {
	Impressions, Feedback int
	// Old messages (impressions and feedback) were before the since
	// cutoff, OtherSpace impressions of another
	// space, Malformed messages that did not decode (skipped, counted).
	Old, OtherSpace, Malformed int
}

// Load reads the IMPRESSIONS and FEEDBACK streams to their ends and joins
// them (see Join) as it goes, keeping only feature vectors and labels: the
// impressions at or after from (of space, if not empty) and the feedback at
// or after from.
func Load(ctx context.Context, js jetstream.JetStream, from time.Time, space string) (Dataset, LoadStats, error) {
	var st LoadStats
	j := NewJoiner()
	err := scan(ctx, js, topology.StreamImpressions, "impressions.>", &st, func(imp topology.Impression) error {
		switch {
		case imp.Time.Before(from):
			st.Old++
		case space != "" && imp.Space != space:
			st.OtherSpace++
		default:
			st.Impressions++
			return j.AddImpression(imp)
		}
		return nil
	})
	if err != nil {
		return Dataset{}, st, fmt.Errorf("load impressions: %w", err)
	}
	err = scan(ctx, js, topology.StreamFeedback, "feedback.>", &st, func(fb topology.Feedback) error {
		if fb.Time.Before(from) {
			st.Old++
			return nil
		}
		st.Feedback++
		j.AddFeedback(fb)
		return nil
	})
	if err != nil {
		return Dataset{}, st, fmt.Errorf("load feedback: %w", err)
	}
	ds, err := j.Dataset()
	return ds, st, err
}

// scan decodes every message of stream matching filter and hands it to
// fn; one that does not decode is counted in st.Malformed.
func scan[T any](ctx context.Context, js jetstream.JetStream, stream, filter string, st *LoadStats, fn func(T) error) error {
	return topology.ScanJSON(ctx, js, stream, filter, &st.Malformed, fn)
}
