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
	var imps []topology.Impression
	err := topology.Scan(ctx, js, topology.StreamImpressions, "impressions.>", func(m jetstream.Msg) error {
		var imp topology.Impression
		switch {
		case json.Unmarshal(m.Data(), &imp) != nil:
			st.Malformed++
		case imp.Time.Before(from):
			st.Old++
		case space != "" && imp.Space != space:
			st.OtherSpace++
		default:
			imps = append(imps, imp)
		}
		return nil
	})
	if err != nil {
		return nil, nil, st, fmt.Errorf("load impressions: %w", err)
	}
	var fbs []topology.Feedback
	err = topology.Scan(ctx, js, topology.StreamFeedback, "feedback.>", func(m jetstream.Msg) error {
		var fb topology.Feedback
		switch {
		case json.Unmarshal(m.Data(), &fb) != nil:
			st.Malformed++
		case fb.Time.Before(from):
			st.Old++
		default:
			fbs = append(fbs, fb)
		}
		return nil
	})
	if err != nil {
		return nil, nil, st, fmt.Errorf("load feedback: %w", err)
	}
	st.Impressions, st.Feedback = len(imps), len(fbs)
	return imps, fbs, st, nil
}
