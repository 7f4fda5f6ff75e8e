package worker

import (
	"context"
	"encoding/json"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/topology"
)

// recorder stands in for the model registry where the test needs to see,
// from inside the encoder, the order of its calls and the priority of the
// thread that makes them; every model is loaded. Everything else is real
// (embedded NATS, the topology's streams and consumers, the worker).
type recorder struct {
	mu    sync.Mutex
	order []string       // models, in the order Encode was called
	nice  map[string]int // model -> nice value of the encoding thread
	done  chan string
}

func newRecorder() *recorder {
	return &recorder{nice: map[string]int{}, done: make(chan string, 64)}
}

type recordingEncoder struct {
	unitEncoder
	r *recorder
}

func (e recordingEncoder) Encode(ctx context.Context, in [][]byte) ([][]float32, error) {
	n := threadNice()
	e.r.mu.Lock()
	e.r.order = append(e.r.order, string(e.unitEncoder))
	e.r.nice[string(e.unitEncoder)] = n
	e.r.mu.Unlock()
	e.r.done <- string(e.unitEncoder)
	return e.unitEncoder.Encode(ctx, in)
}

type recordingEncoders struct{ *recorder }

func (recordingEncoders) Loaded(string) bool { return true }

func (r recordingEncoders) Encoder(_ context.Context, model string) (extractors.Encoder, error) {
	return recordingEncoder{unitEncoder: unitEncoder(model), r: r.recorder}, nil
}

// threadNice is the nice value of the calling OS thread (the raw system
// call answers 20 - nice).
func threadNice() int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return -100
	}
	return 20 - p
}

// A backfill batch is encoded on a thread at the configured nice value, a
// live batch at the process's; 0 leaves backfill at the process's too.
func TestBackfillIsEncodedAtLoweredPriority(t *testing.T) {
	base := threadNice()
	for _, tc := range []struct {
		nice         int
		wantBackfill int
	}{
		{10, min(base+10, 19)},
		{0, base},
	} {
		r := newRecorder()
		runJobs(t, recordingEncoders{r}, []Option{WithConcurrency(1), WithBackfillNice(tc.nice)}, []testJob{
			{topology.LaneBackfill, "next", "b1", "backfill@1"},
			{topology.LaneLive, "live", "p1", "live@1"},
		}, r, 2)
		r.mu.Lock()
		if got := r.nice["backfill@1"]; got != tc.wantBackfill {
			t.Errorf("WithBackfillNice(%d): backfill encoded at nice %d, want %d", tc.nice, got, tc.wantBackfill)
		}
		if got := r.nice["live@1"]; got != base {
			t.Errorf("WithBackfillNice(%d): live encoded at nice %d, want the process's %d", tc.nice, got, base)
		}
		r.mu.Unlock()
	}
}

// The models of one batch are encoded in the order their first job came:
// ingest publishes the active space's jobs before a campaign's dual-write
// jobs, and the active space's features must not wait for the campaign
// model (models used to go in name order).
func TestBatchEncodesModelsInArrivalOrder(t *testing.T) {
	r := newRecorder()
	runJobs(t, recordingEncoders{r}, []Option{WithConcurrency(1)}, []testJob{
		{topology.LaneLive, "active", "p1", "zeta@1"},
		{topology.LaneLive, "campaign", "p1", "alpha@1"},
		{topology.LaneLive, "active", "p2", "zeta@1"},
	}, r, 2)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.order) != 2 || r.order[0] != "zeta@1" || r.order[1] != "alpha@1" {
		t.Fatalf("encode order %v, want [zeta@1 alpha@1] (one batch, arrival order)", r.order)
	}
}

func TestWithBackfillNiceValidates(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{-1, false}, {0, true}, {10, true}, {19, true}, {20, false}} {
		w := &Worker{}
		if err := WithBackfillNice(tc.n)(w); (err == nil) != tc.ok {
			t.Errorf("WithBackfillNice(%d): err %v, want ok=%v", tc.n, err, tc.ok)
		}
	}
}

type testJob struct {
	lane                  topology.Lane
	space, product, model string
}

// runJobs publishes jobs, then runs a worker until encodes Encode calls
// were recorded (jobs published before the worker starts come in one
// batch).
func runJobs(t *testing.T, enc Encoders, opts []Option, jobs []testJob, r *recorder, encodes int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	js := natstest.JetStream(t)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), []string{"text"}); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		job := topology.Job{ProductID: j.product, Space: j.space, Modality: "text", Model: j.model, Revision: 1,
			ContentHash: "h-" + j.product, Text: "a title"}
		data, _ := json.Marshal(job)
		if _, err := js.Publish(ctx, topology.JobSubject("text", j.lane), data); err != nil {
			t.Fatal(err)
		}
	}
	w, err := New(ctx, js, nil, enc, extractors.Text, opts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	for range encodes {
		select {
		case <-r.done:
		case <-time.After(time.Minute):
			t.Fatal("fewer encoder calls than expected")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
