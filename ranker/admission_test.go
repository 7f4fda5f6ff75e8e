package ranker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
)

// TestLoadShedding holds the only Recommend slot with a request whose
// query encoder blocks, then checks how the next request is refused:
// ResourceExhausted once the queue wait passes, DeadlineExceeded when its
// deadline ends first; both are counted, and the slot serves again once
// the first request ends.
func TestLoadShedding(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(3, 40, 4)
	e.load(testSpace, ps)
	enc, _, _ := newTestEncoders()
	like := &omnirankv1.RecommendRequest{PositiveIds: []string{ps[0].id}, K: 5, MmrLambda: 0.5}

	cases := []struct {
		name   string
		wait   time.Duration
		call   func(s *served) error
		code   codes.Code
		msg    string
		metric string
	}{
		{
			name: "overloaded over gRPC", wait: 0,
			call: func(s *served) error {
				_, err := s.rank.Recommend(t.Context(), like)
				return err
			},
			code: codes.ResourceExhausted, msg: "ranker overloaded: 1 requests in flight", metric: "overloaded",
		},
		{
			name: "deadline ends while waiting", wait: time.Hour,
			call: func(s *served) error {
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				defer cancel()
				_, err := s.r.Recommend(ctx, like)
				return err
			},
			code: codes.DeadlineExceeded, msg: "deadline", metric: "deadline",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			s := e.serve(enc, ranker.WithMaxInFlight(1), ranker.WithQueueWait(c.wait), ranker.WithMetrics(reg))
			s.waitReady(t, "")

			// The first request holds the slot: its text encoder blocks
			// until its context ends.
			hold, release := context.WithCancel(t.Context())
			held := make(chan error, 1)
			go func() {
				_, err := s.r.Recommend(hold, &omnirankv1.RecommendRequest{QueryText: "block"})
				held <- err
			}()
			eventually(t, "the first request holds the slot", func() bool { return s.r.Stats().RecommendInFlight == 1 })

			err := c.call(s)
			if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.msg) {
				t.Fatalf("second request: %v, want %v containing %q", err, c.code, c.msg)
			}
			st := s.r.Stats()
			want := map[string]int64{"overloaded": 0, "deadline": 0}
			want[c.metric] = 1
			if st.ShedOverloaded != want["overloaded"] || st.ShedDeadline != want["deadline"] {
				t.Fatalf("stats shed overloaded=%d deadline=%d, want %v", st.ShedOverloaded, st.ShedDeadline, want)
			}
			if got := shedMetrics(t, reg); got["overloaded"] != float64(want["overloaded"]) || got["deadline"] != float64(want["deadline"]) {
				t.Fatalf("omnirank_ranker_shed_total %v, want %v", got, want)
			}

			release()
			if err := <-held; status.Code(err) != codes.Canceled {
				t.Fatalf("held request after cancel: %v", err)
			}
			// The slot is free again: a request is served.
			res, err := s.rank.Recommend(t.Context(), like)
			if err != nil || len(res.Results) == 0 {
				t.Fatalf("after release: %v, %d results", err, len(res.GetResults()))
			}
			if n := s.r.Stats().RecommendInFlight; n != 0 {
				t.Fatalf("%d requests in flight after all returned", n)
			}
		})
	}
}

// shedMetrics reads omnirank_ranker_shed_total by reason from reg.
func shedMetrics(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "omnirank_ranker_shed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// TestCPUGateRecommend checks that a request's search waits for a CPU
// slot (failing with DeadlineExceeded when none frees in time) while a
// request waiting on its query encoder holds none.
func TestCPUGateRecommend(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	ps := catalogue(3, 40, 4)
	e.load(testSpace, ps)
	enc, _, _ := newTestEncoders()
	like := &omnirankv1.RecommendRequest{PositiveIds: []string{ps[0].id}, K: 5, MmrLambda: 0.5}
	s := e.serve(enc, ranker.WithMaxInFlight(4))
	s.waitReady(t, "")

	// A request blocked in its encoder holds an admission slot, no CPU slot.
	hold, unblock := context.WithCancel(t.Context())
	held := make(chan error, 1)
	go func() {
		_, err := s.r.Recommend(hold, &omnirankv1.RecommendRequest{QueryText: "block"})
		held <- err
	}()
	eventually(t, "the encoding request is admitted", func() bool { return s.r.Stats().RecommendInFlight == 1 })
	if n := s.r.CPUHeld(); n != 0 {
		t.Fatalf("%d CPU slots held by a request waiting on its encoder", n)
	}

	release := s.r.HoldCPU()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	_, err := s.r.Recommend(ctx, like)
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("search with every CPU slot taken: %v, want DeadlineExceeded", err)
	}
	release()
	res, err := s.r.Recommend(t.Context(), like)
	if err != nil || len(res.Results) == 0 {
		t.Fatalf("after the CPU slots are free: %v, %d results", err, len(res.GetResults()))
	}
	if n := s.r.CPUHeld(); n != 0 {
		t.Fatalf("%d CPU slots held after the request returned", n)
	}
	unblock()
	if err := <-held; status.Code(err) != codes.Canceled {
		t.Fatalf("encoding request after cancel: %v", err)
	}
}
