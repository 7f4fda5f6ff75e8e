package ranker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// publishFast publishes every product's embedding with asynchronous
// publishes (bounded in flight), for catalogues too large for one round
// trip per message.
func (e *env) publishFast(s spaces.Space, ps []*product) {
	e.t.Helper()
	for i, p := range ps {
		joint, layout, err := s.Join(p.parts)
		if err != nil {
			e.t.Fatal(err)
		}
		p.joint = joint
		data, err := json.Marshal(topology.Embedding{ProductID: p.id, Space: s.Name, Revision: 1, Vector: joint, Blocks: layout, UploadedAt: baseTime})
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.js.PublishAsync(topology.EmbSubject(s.Name, p.id), data); err != nil {
			e.t.Fatal(err)
		}
		if i%4096 == 4095 {
			select {
			case <-e.js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				e.t.Fatal("publish stalled")
			}
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		e.t.Fatal("publish stalled")
	}
}

// timeToReady starts a ranker and returns how long its space took to be
// ready.
func timeToReady(b *testing.B, e *env, opts ...ranker.Option) (*ranker.Ranker, time.Duration) {
	b.Helper()
	opts = append([]ranker.Option{ranker.WithLogger(testLogger()), ranker.WithClock(fixedClock)}, opts...)
	start := time.Now()
	r, err := ranker.New(e.js, nil, opts...)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(e.ctx); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Minute)
	defer cancel()
	if err := r.WaitReady(ctx, benchSpace.Name); err != nil {
		b.Fatal(err)
	}
	return r, time.Since(start)
}

// BenchmarkSnapshotStartup measures how long a ranker takes to be ready
// for a space of 100,000 products (408 dims, HNSW) by replaying the
// embedding stream, and by loading a snapshot from the bucket (embedded
// S3 gateway) and replaying the 1,000 updates published after it. It runs
// once whatever -benchtime says; -short uses 10,000 products.
//
//	go test -run '^$' -bench BenchmarkSnapshotStartup -benchtime 1x -timeout 30m ./ranker/
func BenchmarkSnapshotStartup(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	e := newEnv(b)
	e.putSpace(benchSpace, true)
	st := newBucket(b)
	ps := catalogueDims(41, n, 200, benchSpace)
	t0 := time.Now()
	e.publishFast(benchSpace, ps)
	b.Logf("published %d embeddings in %v", n, time.Since(t0).Round(time.Millisecond))

	full, replay := timeToReady(b, e, ranker.WithSnapshots(st, time.Hour), ranker.WithSpaces(benchSpace.Name))
	t0 = time.Now()
	keys, err := full.Snapshot(e.ctx)
	if err != nil || len(keys) != 1 {
		b.Fatalf("snapshot: %v %v", keys, err)
	}
	write := time.Since(t0)
	pause := spaceStats(full, benchSpace.Name).SnapshotPause
	if pause <= 0 || pause > write {
		b.Fatalf("snapshot pause %v (write %v)", pause, write)
	}
	if err := full.Close(); err != nil {
		b.Fatal(err)
	}
	objs, err := st.ListObjects(e.ctx, keys[0])
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, o := range objs {
		size += o.Size
	}
	// 1,000 updates after the snapshot.
	upd := catalogueDims(42, 1000, 20, benchSpace)
	for i, p := range upd {
		p.id = ps[i*(n/1000)].id
	}
	e.publishFast(benchSpace, upd)

	restored, restore := timeToReady(b, e, ranker.WithSnapshots(st, time.Hour), ranker.WithSpaces(benchSpace.Name))
	rs := spaceStats(restored, benchSpace.Name)
	if err := restored.Close(); err != nil {
		b.Fatal(err)
	}
	if rs.SnapshotLoaded != keys[0] || rs.Applied != 1000 || rs.Vectors != n {
		b.Fatalf("restored stats %+v: want %s loaded, 1000 applied, %d vectors", rs, keys[0], n)
	}
	b.Logf("%d vectors: full replay %v; snapshot write %v (%.1f MB, index paused %v); restore + 1000 updates %v",
		n, replay.Round(time.Millisecond), write.Round(time.Millisecond), float64(size)/1e6, pause.Round(time.Millisecond), restore.Round(time.Millisecond))
	for b.Loop() {
	}
	b.ReportMetric(replay.Seconds(), "replay-s")
	b.ReportMetric(restore.Seconds(), "restore-s")
	b.ReportMetric(write.Seconds(), "snapshot-write-s")
	b.ReportMetric(pause.Seconds(), "snapshot-pause-s")
	b.ReportMetric(float64(size)/1e6, "snapshot-MB")
}
