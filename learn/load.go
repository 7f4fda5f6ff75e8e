package learn

import (
	"context"
	"encoding/json"
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

// Load reads the IMPRESSIONS and FEEDBACK streams to their ends: the
// impressions at or after from (of space, if not empty) and the feedback
// at or after from.
func Load(ctx context.Context, js jetstream.JetStream, from time.Time, space string) ([]topology.Impression, []topology.Feedback, LoadStats, error) {
	var st LoadStats
	imps, err := scan(ctx, js, topology.StreamImpressions, "impressions.>", &st, func(imp topology.Impression) bool {
		switch {
		case imp.Time.Before(from):
			st.Old++
		case space != "" && imp.Space != space:
			st.OtherSpace++
		default:
			return true
		}
		return false
	})
	if err != nil {
		return nil, nil, st, fmt.Errorf("load impressions: %w", err)
	}
	fbs, err := scan(ctx, js, topology.StreamFeedback, "feedback.>", &st, func(fb topology.Feedback) bool {
		if fb.Time.Before(from) {
			st.Old++
			return false
		}
		return true
	})
	if err != nil {
		return nil, nil, st, fmt.Errorf("load feedback: %w", err)
	}
	st.Impressions, st.Feedback = len(imps), len(fbs)
	return imps, fbs, st, nil
}

// scan decodes every message of stream matching filter and keeps those
// keep accepts; one that does not decode is counted in st.Malformed.
func scan[T any](ctx context.Context, js jetstream.JetStream, stream, filter string, st *LoadStats, keep func(T) bool) ([]T, error) {
	var out []T
	err := topology.Scan(ctx, js, stream, filter, func(m jetstream.Msg) error {
		var v T
		if json.Unmarshal(m.Data(), &v) != nil {
			st.Malformed++
		} else if keep(v) {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
