package campaign

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name    string
		cap     float64
		window  int
		live    []bool // adapt calls before allow
		after   time.Duration
		backlog int
		want    int
	}{
		{"no cap: the window's room", 0, 128, nil, time.Second, 28, 64},
		{"no cap: full window", 0, 128, nil, time.Second, 128, 0},
		{"cap: one second of tokens", 10, 128, nil, time.Second, 0, 10},
		{"cap: burst bounded to a second", 10, 128, nil, time.Minute, 0, 10},
		{"live waits: half the cap", 10, 128, []bool{true}, time.Second, 0, 5},
		{"live waits twice: a quarter of the window", 0, 128, []bool{true, true}, time.Second, 20, 12},
		{"live cleared: grows back slowly", 0, 100, []bool{true, true, false}, time.Second, 0, 35},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := newThrottle(tc.cap, tc.window, t0)
			for _, l := range tc.live {
				th.adapt(l)
			}
			if got := th.allow(t0.Add(tc.after), tc.backlog, 64); got != tc.want {
				t.Fatalf("allow = %d, want %d (factor %.2f)", got, tc.want, th.factor)
			}
		})
	}
	// No cap: a slowed campaign is held to a share of its unthrottled rate.
	th := newThrottle(0, 128, t0)
	th.observe(40)
	th.adapt(true)
	th.observe(5) // slowed: not its own new baseline
	if got := th.allow(t0.Add(time.Second), 0, 64); got != 20 {
		t.Fatalf("slowed without a cap: allow %d, want 20 (half of 40/s)", got)
	}
	th = newThrottle(0, 128, t0)
	for range 20 {
		th.adapt(true)
	}
	if th.factor != minFactor {
		t.Fatalf("factor fell to %g, want the floor %g", th.factor, minFactor)
	}
}

func TestFreshnessTarget(t *testing.T) {
	f := newFreshness()
	if f.target() != 0 || f.tooSlow(0) {
		t.Fatal("no samples: no target, never too slow")
	}
	f.mu.Lock()
	for _, ms := range []int{100, 120, 90, 200, 110} {
		f.base = append(f.base, time.Duration(ms)*time.Millisecond)
	}
	f.mu.Unlock()
	target := f.target()
	if target != 400*time.Millisecond {
		t.Fatalf("target %s, want 2 × idle p99 = 400ms", target)
	}
	for _, tc := range []struct {
		during []time.Duration
		slow   bool
	}{
		{[]time.Duration{300 * time.Millisecond, 390 * time.Millisecond}, false},
		{[]time.Duration{300 * time.Millisecond, 450 * time.Millisecond}, true},
		{nil, false}, // taken: the slow sample does not count twice
	} {
		f.mu.Lock()
		f.fresh = append(f.fresh, tc.during...)
		f.mu.Unlock()
		if got := f.tooSlow(target); got != tc.slow {
			t.Fatalf("during %v: too slow %v, want %v", tc.during, got, tc.slow)
		}
	}
}
