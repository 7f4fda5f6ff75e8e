package ranker

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Shed reasons, the values of the reason label of
// omnirank_ranker_shed_total.
const (
	shedOverloaded = "overloaded"
	shedDeadline   = "deadline"
)

// admission bounds the Recommend requests doing work at once. A request
// takes a slot or waits for one at most the queue wait (and never past
// its deadline); one that gets none fails at once instead of adding to a
// queue that would make every request late.
type admission struct {
	slots chan struct{}
	wait  time.Duration

	overloaded, deadline atomic.Int64
}

func newAdmission(maxInFlight int, wait time.Duration) *admission {
	return &admission{slots: make(chan struct{}, maxInFlight), wait: wait}
}

// collectors are the admission metrics: requests shed by reason and
// requests holding a slot, read at scrape time.
func (a *admission) collectors() []prometheus.Collector {
	shed := func(reason string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "omnirank", Subsystem: "ranker", Name: "shed_total",
			Help:        "Recommend requests refused before any work: overloaded (no slot within the queue wait: ResourceExhausted) or deadline (the deadline ended while waiting for a slot: DeadlineExceeded).",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 { return float64(n.Load()) })
	}
	return []prometheus.Collector{
		shed(shedOverloaded, &a.overloaded),
		shed(shedDeadline, &a.deadline),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "omnirank", Subsystem: "ranker", Name: "recommend_in_flight",
			Help: "Recommend requests holding a slot.",
		}, func() float64 { return float64(len(a.slots)) }),
	}
}

// acquire takes a slot for a request, or returns the status it fails
// with: ResourceExhausted when every slot stayed taken for the queue
// wait, DeadlineExceeded (or Canceled) when ctx ended first. release
// gives the slot back.
func (a *admission) acquire(ctx context.Context) (release func(), err error) {
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	default:
	}
	if a.wait > 0 {
		// A deadline that ends within the queue wait bounds the wait
		// itself, so that such a request fails with DeadlineExceeded.
		var timeout <-chan time.Time
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > a.wait {
			t := time.NewTimer(a.wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case a.slots <- struct{}{}:
			if err := ctx.Err(); err != nil {
				a.release()
				return nil, a.ctxShed(err)
			}
			return a.release, nil
		case <-ctx.Done():
			return nil, a.ctxShed(ctx.Err())
		case <-timeout:
		}
	}
	a.overloaded.Add(1)
	return nil, status.Error(codes.ResourceExhausted, fmt.Sprintf("ranker overloaded: %d requests in flight, retry later", cap(a.slots)))
}

// ctxShed is the status of a request whose context ended while it waited.
func (a *admission) ctxShed(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		a.deadline.Add(1)
		return status.Error(codes.DeadlineExceeded, "ranker overloaded: the request's deadline passed while it waited for a slot")
	}
	return status.FromContextError(err).Err()
}

func (a *admission) release() { <-a.slots }

// cpuGate bounds the admitted requests that run CPU-bound Go code (index
// search, scoring, MMR) at once, normally to GOMAXPROCS. The admission
// gate lets in more requests than there are CPUs, so that requests whose
// encoder waits (ONNX Runtime runs on its own threads) keep the CPUs busy;
// but when every admitted request searches, more runnable searches than
// Ps only queue in the Go scheduler, where each one holds a P for a full
// time slice and the gRPC transport goroutines that read requests and
// write responses wait behind all of them. Latency then builds up
// outside the gate, where shedding cannot see it (served p50 in seconds
// under overload). A request waiting here is parked, not runnable.
type cpuGate chan struct{}

func newCPUGate(n int) cpuGate { return make(cpuGate, max(n, 1)) }

// acquire takes a CPU slot, waiting at most until ctx ends; release gives
// it back.
func (g cpuGate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g <- struct{}{}:
		return g.release, nil
	default:
	}
	select {
	case g <- struct{}{}:
		return g.release, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (g cpuGate) release() { <-g }
