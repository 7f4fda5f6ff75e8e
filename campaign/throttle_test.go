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
	th := newThrottle(0, 128, t0)
	for range 20 {
		th.adapt(true)
	}
	if th.factor != minFactor {
		t.Fatalf("factor fell to %g, want the floor %g", th.factor, minFactor)
	}
}
