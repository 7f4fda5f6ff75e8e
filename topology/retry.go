package topology

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxRetryDelay caps RetryDelay.
const MaxRetryDelay = 30 * time.Second

// RetryDelay is the one retry schedule of every role: how long a message
// whose attempt-th delivery failed (1 for the first) waits before it is
// redelivered. It starts at 1 s and doubles per attempt up to
// MaxRetryDelay, so MaxDeliver (5) attempts span 15 s and
// MaxTransientDeliver (32) about 14 minutes of outage.
func RetryDelay(attempt int) time.Duration {
	return min(time.Second<<min(max(attempt-1, 0), 5), MaxRetryDelay)
}

// Attempts is how often m has been delivered, this delivery included (1
// when its metadata cannot be read).
func Attempts(m jetstream.Msg) int {
	meta, err := m.Metadata()
	if err != nil || meta.NumDelivered == 0 {
		return 1
	}
	return int(meta.NumDelivered)
}

// NakForRetry leaves m for redelivery after RetryDelay of its attempts and
// returns that delay.
func NakForRetry(m jetstream.Msg) time.Duration {
	d := RetryDelay(Attempts(m))
	_ = m.NakWithDelay(d)
	return d
}
