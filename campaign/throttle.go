package campaign

import (
	"math"
	"time"
)

// throttle paces a campaign's backfill: a token bucket at the rate cap
// (products per second; 0 means no cap) scaled by an adaptive factor that
// halves whenever live work waits and grows back slowly when it does not
// (additive increase, multiplicative decrease); with no cap, the factor
// applies to the completion rate observed while it was 1. The same factor shrinks
// the window of backfill jobs allowed to wait in the queue, so that
// extractors, which always drain the live lane first, never hold more
// than a small amount of backfill work when a live upload comes in.
type throttle struct {
	cap    float64
	window int
	factor float64
	tokens float64
	last   time.Time
	// observed is the campaign's completion rate while unthrottled: with
	// no cap, the rate a slowed campaign is held to a share of.
	observed float64
}

const minFactor = 0.05

func newThrottle(capPerS float64, window int, now time.Time) *throttle {
	return &throttle{cap: capPerS, window: window, factor: 1, last: now}
}

// adapt lowers the factor when live work waits and raises it otherwise.
func (t *throttle) adapt(liveWaiting bool) {
	if liveWaiting {
		t.factor = math.Max(t.factor/2, minFactor)
	} else {
		t.factor = math.Min(t.factor+0.1, 1)
	}
}

// allow returns how many products may be queued now, at most most, given
// the backfill jobs still waiting (backlog).
func (t *throttle) allow(now time.Time, backlog, most int) int {
	room := int(float64(t.window)*t.factor) - backlog
	if room <= 0 {
		return 0
	}
	n := min(room, most)
	base := t.cap
	if base == 0 && t.factor < 1 {
		base = t.observed
	}
	if base > 0 {
		rate := base * t.factor
		t.tokens = math.Min(t.tokens+now.Sub(t.last).Seconds()*rate, math.Max(rate, 1))
		n = min(n, int(t.tokens))
		t.tokens -= float64(n)
	}
	t.last = now
	return max(n, 0)
}

// observe records the campaign's completion rate; only unthrottled rates
// count, so a slowed campaign does not spiral down on its own slowness.
func (t *throttle) observe(itemsPerS float64) {
	if t.factor == 1 && itemsPerS > 0 {
		t.observed = itemsPerS
	}
}
