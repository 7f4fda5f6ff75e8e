package topology

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{5, 16 * time.Second}, {6, 30 * time.Second}, {MaxTransientDeliver, 30 * time.Second}, {1 << 20, 30 * time.Second},
	} {
		if got := RetryDelay(tc.attempt); got != tc.want {
			t.Errorf("RetryDelay(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	// The whole transient budget is the outage MaxTransientDeliver documents.
	var total time.Duration
	for a := 1; a < MaxTransientDeliver; a++ {
		total += RetryDelay(a)
	}
	if total < 13*time.Minute || total > 15*time.Minute {
		t.Fatalf("%d attempts span %v, want about 14 minutes", MaxTransientDeliver, total)
	}
}
