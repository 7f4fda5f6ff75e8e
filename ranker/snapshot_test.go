package ranker_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// snapOpts makes a ranker snapshot into st; the interval is long so that
// only explicit Snapshot calls and Close write.
func snapOpts(st ranker.SnapshotStore, extra ...ranker.Option) []ranker.Option {
	return append([]ranker.Option{ranker.WithSnapshots(st, time.Hour)}, extra...)
}

// flatIndex makes exact indexes, so that rankers holding equal vectors
// answer equally whatever order they inserted them in.
func flatIndex() ranker.Option {
	return ranker.WithIndexFactory(func(dim int) (index.Index, error) { return index.NewFlat(dim), nil })
}

// mutate publishes the changes that happen while no snapshotting ranker
// runs: updates (revision 2), tombstones, new products, and a stale
// embedding for stale (revision 1, older than the revision 3 applied
// before the snapshot). It returns the new products.
func (e *env) mutate(ps []*product, stale *product) []*product {
	e.t.Helper()
	for _, p := range ps[0:20] { // updates: move to the next cluster
		q := ps[(slices.Index(ps, p)+1)%len(ps)]
		p.joint = e.publishEmb(testSpace, p.id, 2, q.parts)
	}
	for _, p := range ps[20:30] { // tombstones
		e.deleteProduct(p.id)
		e.publishTombstone(testSpace, p.id, 2)
	}
	fresh := catalogue(99, 30, 5)
	for _, p := range fresh {
		p.id = "new-" + p.id
		e.putProduct(p)
		p.joint = e.publishEmb(testSpace, p.id, 1, p.parts)
	}
	e.publishEmb(testSpace, stale.id, 1, ps[0].parts)
	return fresh
}

// sameContents fails unless a and b hold the same vectors and revisions
// for every id.
func sameContents(t *testing.T, what string, a, b *ranker.Ranker, ids []string) {
	t.Helper()
	for _, id := range ids {
		va, oka := a.VectorOf(testSpace.Name, id)
		vb, okb := b.VectorOf(testSpace.Name, id)
		if oka != okb || !slices.Equal(va, vb) {
			t.Fatalf("%s: product %s: present %v/%v, vectors differ: %v", what, id, oka, okb, !slices.Equal(va, vb))
		}
		ra, da, _ := a.RevisionOf(testSpace.Name, id)
		rb, db, _ := b.RevisionOf(testSpace.Name, id)
		if ra != rb || da != db {
			t.Fatalf("%s: product %s: revision %d (deleted %v) vs %d (deleted %v)", what, id, ra, da, rb, db)
		}
	}
	if na, nb := spaceStats(a, testSpace.Name).Vectors, spaceStats(b, testSpace.Name).Vectors; na != nb {
		t.Fatalf("%s: %d vs %d vectors", what, na, nb)
	}
}

// sameAnswers fails unless a and b answer the requests identically.
func sameAnswers(t *testing.T, what string, a, b *served, reqs []*omnirankv1.RecommendRequest) {
	t.Helper()
	for i, req := range reqs {
		ra, err := a.rank.Recommend(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: request %d: %v", what, i, err)
		}
		rb, err := b.rank.Recommend(t.Context(), req)
		if err != nil {
			t.Fatalf("%s: request %d: %v", what, i, err)
		}
		if len(ra.GetResults()) == 0 {
			t.Fatalf("%s: request %d: no results", what, i)
		}
		if !slices.Equal(ids(ra), ids(rb)) {
			t.Fatalf("%s: request %d: ids %v vs %v", what, i, ids(ra), ids(rb))
		}
		for j := range ra.GetResults() {
			if !proto.Equal(ra.GetResults()[j], rb.GetResults()[j]) {
				t.Fatalf("%s: request %d result %d: %v vs %v", what, i, j, ra.GetResults()[j], rb.GetResults()[j])
			}
		}
	}
}

func testRequests(ps []*product) []*omnirankv1.RecommendRequest {
	var reqs []*omnirankv1.RecommendRequest
	for _, i := range []int{0, 5, 33, 77, len(ps) - 1} {
		reqs = append(reqs, &omnirankv1.RecommendRequest{PositiveIds: []string{ps[i].id}, K: 20})
	}
	reqs = append(reqs,
		&omnirankv1.RecommendRequest{PositiveIds: []string{ps[40].id}, K: 10, MmrLambda: 0.5,
			Filter: &omnirankv1.Filter{CategoryPrefix: []string{"home"}}},
		&omnirankv1.RecommendRequest{PositiveIds: []string{ps[41].id, ps[90].id}, NegativeIds: []string{ps[60].id}, K: 15})
	return reqs
}

func allIDs(sets ...[]*product) []string {
	var out []string
	for _, ps := range sets {
		for _, p := range ps {
			out = append(out, p.id)
		}
	}
	return out
}

// lastEmbSeq is the stream sequence of the space's newest embedding.
func (e *env) lastEmbSeq() uint64 {
	e.t.Helper()
	st, err := e.js.Stream(e.ctx, topology.StreamEmb)
	if err != nil {
		e.t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(e.ctx, topology.EmbFilter(testSpace.Name))
	if err != nil {
		e.t.Fatal(err)
	}
	return m.Sequence
}

func (s *served) waitSeq(t *testing.T, seq uint64) {
	t.Helper()
	eventually(t, fmt.Sprintf("ranker at sequence %d", seq), func() bool { return spaceStats(s.r, testSpace.Name).Seq >= seq })
}

// TestSnapshotRestoreMatchesReplay: a ranker restored from a snapshot and
// a replay of the messages after it ends with exactly the state of a
// ranker that followed everything live, and of one that replayed the
// whole stream (except where a stale embedding replaced a newer one in the
// stream, which only the replayer can be fooled by).
func TestSnapshotRestoreMatchesReplay(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	st := newBucket(t)
	ps := catalogue(11, 200, 8)
	e.load(testSpace, ps[:150])
	live := e.serve(nil) // follows everything as it happens, no snapshots

	first := e.serve(nil, snapOpts(st)...)
	first.waitReady(t, "")
	keys, err := first.r.Snapshot(t.Context())
	if err != nil || len(keys) != 1 {
		t.Fatalf("first snapshot: keys %v, err %v", keys, err)
	}
	if keys, err := first.r.Snapshot(t.Context()); err != nil || len(keys) != 0 {
		t.Fatalf("unchanged space snapshotted again: keys %v, err %v", keys, err)
	}
	// More products, and product 100 moves to revision 3, before Close
	// writes the second snapshot.
	e.load(testSpace, ps[150:])
	stale := ps[100]
	stale.joint = e.publishEmb(testSpace, stale.id, 3, ps[101].parts)
	first.waitSeq(t, e.lastEmbSeq())
	if err := first.r.Close(); err != nil {
		t.Fatal(err)
	}
	fs := spaceStats(first.r, testSpace.Name)
	if fs.SnapshotsWritten != 2 || fs.SnapshotLoaded != "" || fs.ReplayedFromSeq != 0 {
		t.Fatalf("first ranker stats %+v: want 2 snapshots written, none loaded", fs)
	}
	snapSeq := fs.Seq

	fresh := e.mutate(ps, stale)
	live.waitSeq(t, e.lastEmbSeq())
	if got := spaceStats(live.r, testSpace.Name).Ignored; got != 1 {
		t.Fatalf("live ranker ignored %d stale embeddings, want 1", got)
	}

	restored := e.serve(nil, snapOpts(st)...)
	restored.waitReady(t, "")
	rs := spaceStats(restored.r, testSpace.Name)
	if rs.SnapshotLoaded == "" || rs.SnapshotSeq != snapSeq || rs.ReplayedFromSeq != snapSeq+1 || rs.SnapshotsSkipped != 0 {
		t.Fatalf("restored stats %+v: want snapshot at seq %d loaded, replay from %d", rs, snapSeq, snapSeq+1)
	}
	// Only the 61 messages after the snapshot were replayed: 20 updates and
	// 30 new products applied, 10 tombstones, 1 stale embedding ignored.
	if rs.Applied != 50 || rs.Deleted != 10 || rs.Ignored != 1 || rs.Rejected != 0 {
		t.Fatalf("restored replay counts %+v: want applied 50, deleted 10, ignored 1", rs)
	}
	every := allIDs(ps, fresh)
	sameContents(t, "restored vs live", restored.r, live.r, every)
	sameAnswers(t, "restored vs live", restored, live, testRequests(ps))
	if rev, del, _ := restored.r.RevisionOf(testSpace.Name, stale.id); rev != 3 || del {
		t.Fatalf("stale product: revision %d deleted %v, want 3", rev, del)
	}

	replayed := e.serve(nil)
	replayed.waitReady(t, "")
	notStale := slices.DeleteFunc(slices.Clone(every), func(id string) bool { return id == stale.id })
	sameContents(t, "restored vs full replay", restored.r, replayed.r, notStale)
	if got := spaceStats(replayed.r, testSpace.Name); got.SnapshotLoaded != "" || got.Applied != int64(len(ps)-10+len(fresh)) {
		t.Fatalf("full replay stats %+v", got)
	}

	// The restored ranker is live too: a new update reaches it.
	p := ps[120]
	p.joint = e.publishEmb(testSpace, p.id, 5, ps[3].parts)
	restored.waitSeq(t, e.lastEmbSeq())
	got, ok := restored.r.VectorOf(testSpace.Name, p.id)
	if !ok || !vecApprox(got, normalized(p.joint)) {
		t.Fatalf("update after restore not applied")
	}
}

func vecApprox(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !approx(a[i], b[i]) {
			return false
		}
	}
	return true
}

// snapshotKeys lists the complete snapshots (manifests) of the test space.
func snapshotKeys(t *testing.T, st storage.ObjectStore) (manifests []string, all []string) {
	t.Helper()
	all, err := st.List(t.Context(), storage.SnapshotsPrefix+testSpace.Name+"/")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if base, ok := strings.CutSuffix(k, ".json"); ok {
			manifests = append(manifests, base)
		}
	}
	return manifests, all
}

// TestSnapshotCorruptFallsBack damages the newest snapshot in different
// ways: the ranker skips it, loads the previous one and replays from
// there; with every snapshot damaged it replays the stream from the start.
// Either way it ends with the state of a full replay.
func TestSnapshotCorruptFallsBack(t *testing.T) {
	flip := func(b []byte) []byte { b = slices.Clone(b); b[len(b)/2] ^= 0x40; return b }
	cases := []struct {
		name string
		// damage returns the new content of the object with extension ext
		// (nil: delete it; unchanged: leave it).
		damage  map[string]func([]byte) []byte
		all     bool // damage every snapshot, not only the newest
		skipped int
	}{
		{name: "index bit flip", damage: map[string]func([]byte) []byte{".idx": flip}, skipped: 1},
		{name: "index truncated", damage: map[string]func([]byte) []byte{".idx": func(b []byte) []byte { return b[:len(b)/3] }}, skipped: 1},
		{name: "revisions missing", damage: map[string]func([]byte) []byte{".revs": nil}, skipped: 1},
		{name: "revisions bit flip", damage: map[string]func([]byte) []byte{".revs": flip}, skipped: 1},
		{name: "manifest garbage", damage: map[string]func([]byte) []byte{".json": func([]byte) []byte { return []byte("{not json") }}, skipped: 1},
		{name: "manifest wrong seq", damage: map[string]func([]byte) []byte{".json": func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"seq": `, `"seq": 1`, 1))
		}}, skipped: 1},
		{name: "every snapshot corrupt", damage: map[string]func([]byte) []byte{".idx": flip}, all: true, skipped: 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.putSpace(testSpace, true)
			st := newBucket(t)
			ps := catalogue(5, 120, 6)
			e.load(testSpace, ps[:80])
			w := e.serve(nil, snapOpts(st, flatIndex())...)
			w.waitReady(t, "")
			k1, err := w.r.Snapshot(t.Context())
			if err != nil || len(k1) != 1 {
				t.Fatalf("snapshot: %v %v", k1, err)
			}
			seq1 := spaceStats(w.r, testSpace.Name).Seq
			e.load(testSpace, ps[80:])
			for _, p := range ps[:10] {
				p.joint = e.publishEmb(testSpace, p.id, 2, ps[50].parts)
			}
			w.waitSeq(t, e.lastEmbSeq())
			k2, err := w.r.Snapshot(t.Context())
			if err != nil || len(k2) != 1 {
				t.Fatalf("snapshot: %v %v", k2, err)
			}
			if err := w.r.Close(); err != nil {
				t.Fatal(err)
			}
			targets := k2
			if c.all {
				targets = append(targets, k1...)
			}
			for _, base := range targets {
				for ext, fn := range c.damage {
					key := base + ext
					if fn == nil {
						if err := st.DeleteObject(t.Context(), key); err != nil {
							t.Fatal(err)
						}
						continue
					}
					data, err := st.GetObject(t.Context(), key, 1<<30)
					if err != nil {
						t.Fatal(err)
					}
					if err := st.PutObject(t.Context(), key, fn(data), "application/octet-stream"); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, p := range ps[10:15] { // after the snapshots
				e.publishTombstone(testSpace, p.id, 2)
			}

			r := e.serve(nil, snapOpts(st, flatIndex())...)
			r.waitReady(t, "")
			full := e.serve(nil, flatIndex())
			full.waitReady(t, "")
			got := spaceStats(r.r, testSpace.Name)
			if got.SnapshotsSkipped != c.skipped {
				t.Fatalf("skipped %d snapshots, want %d (stats %+v)", got.SnapshotsSkipped, c.skipped, got)
			}
			if c.all {
				if got.SnapshotLoaded != "" || got.ReplayedFromSeq != 0 {
					t.Fatalf("loaded %q from seq %d, want a full replay", got.SnapshotLoaded, got.ReplayedFromSeq)
				}
			} else if got.SnapshotLoaded != k1[0] || got.ReplayedFromSeq != seq1+1 {
				t.Fatalf("loaded %q replaying from %d, want %q from %d", got.SnapshotLoaded, got.ReplayedFromSeq, k1[0], seq1+1)
			}
			sameContents(t, "fallback vs full replay", r.r, full.r, allIDs(ps))
			sameAnswers(t, "fallback vs full replay", r, full, testRequests(ps))
		})
	}
}

// TestSnapshotPeriodicAndRetention: the periodic writer snapshots a
// changed space on its own, and only the newest three snapshots stay in
// the bucket.
func TestSnapshotPeriodicAndRetention(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	st := newBucket(t)
	ps := catalogue(3, 60, 4)
	e.load(testSpace, ps[:10])
	s := e.serve(nil, ranker.WithSnapshots(st, 20*time.Millisecond))
	s.waitReady(t, "")
	for i := 1; i <= 5; i++ {
		e.load(testSpace, ps[10*i:10*i+10])
		seq := e.lastEmbSeq()
		eventually(t, fmt.Sprintf("snapshot %d", i), func() bool {
			man, _ := snapshotKeys(t, st)
			return slices.ContainsFunc(man, func(k string) bool { return strings.HasSuffix(k, fmt.Sprintf("-%d", seq)) })
		})
	}
	written := spaceStats(s.r, testSpace.Name).SnapshotsWritten
	if written < 5 {
		t.Fatalf("wrote %d snapshots, want >= 5", written)
	}
	// Pruning follows the manifest's upload: wait for it.
	var man, all []string
	eventually(t, "3 snapshots in 9 objects", func() bool {
		man, all = snapshotKeys(t, st)
		return len(man) == 3 && len(all) == 9
	})
	// The newest is the one at the last sequence.
	if !slices.ContainsFunc(man, func(k string) bool { return strings.HasSuffix(k, fmt.Sprintf("-%d", e.lastEmbSeq())) }) {
		t.Fatalf("newest snapshot missing: %v", man)
	}
	// Unchanged: nothing more is written.
	time.Sleep(100 * time.Millisecond)
	if got := spaceStats(s.r, testSpace.Name).SnapshotsWritten; got != written {
		t.Fatalf("unchanged space snapshotted: %d -> %d", written, got)
	}
}

// TestSnapshotOtherStreamSkipped: a snapshot of an EMB stream that was
// deleted and created again (sequences restart) is not resumed.
func TestSnapshotOtherStreamSkipped(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	st := newBucket(t)
	ps := catalogue(8, 40, 4)
	e.load(testSpace, ps)
	w := e.serve(nil, snapOpts(st)...)
	w.waitReady(t, "")
	if err := w.r.Close(); err != nil {
		t.Fatal(err)
	}
	if man, _ := snapshotKeys(t, st); len(man) != 1 {
		t.Fatalf("close wrote %v, want one snapshot", man)
	}
	if err := e.js.DeleteStream(e.ctx, topology.StreamEmb); err != nil {
		t.Fatal(err)
	}
	if err := topology.Ensure(e.ctx, e.js, topology.DefaultOptions(), []string{"text", "image", "audio"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps[:30] {
		p.joint = e.publishEmb(testSpace, p.id, 1, p.parts)
	}
	r := e.serve(nil, snapOpts(st)...)
	r.waitReady(t, "")
	got := spaceStats(r.r, testSpace.Name)
	if got.SnapshotLoaded != "" || got.SnapshotsSkipped != 1 || got.Vectors != 30 {
		t.Fatalf("stats %+v: want the old stream's snapshot skipped and 30 vectors replayed", got)
	}
}

func TestSnapshotOptions(t *testing.T) {
	e := newEnv(t)
	st := newBucket(t)
	cases := []struct {
		name string
		opt  ranker.Option
		ok   bool
	}{
		{"nil store", ranker.WithSnapshots(nil, time.Minute), false},
		{"zero interval", ranker.WithSnapshots(st, 0), false},
		{"negative interval", ranker.WithSnapshots(st, -time.Second), false},
		{"valid", ranker.WithSnapshots(st, time.Minute), true},
		{"retention 0", ranker.WithSnapshotRetention(0), false},
		{"retention 1", ranker.WithSnapshotRetention(1), true},
		{"empty dir", ranker.WithSnapshotDir(""), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ranker.New(e.js, nil, c.opt)
			if c.ok != (err == nil) || (err != nil && !errors.Is(err, ranker.ErrInvalidOption)) {
				t.Fatalf("err %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// TestSnapshotRestoreNothingNew: a snapshot at the stream's last message
// makes the space ready at once, and the follower then takes the next
// message published.
func TestSnapshotRestoreNothingNew(t *testing.T) {
	e := newEnv(t)
	e.putSpace(testSpace, true)
	st := newBucket(t)
	ps := catalogue(9, 50, 4)
	e.load(testSpace, ps[:40])
	w := e.serve(nil, snapOpts(st)...)
	w.waitReady(t, "")
	if err := w.r.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.serve(nil, snapOpts(st)...)
	r.waitReady(t, "")
	got := spaceStats(r.r, testSpace.Name)
	if got.SnapshotLoaded == "" || got.Vectors != 40 || got.Applied != 0 || got.ReplayedFromSeq != e.lastEmbSeq()+1 {
		t.Fatalf("stats %+v: want the snapshot loaded with 40 vectors and nothing replayed", got)
	}
	e.load(testSpace, ps[40:])
	r.waitSeq(t, e.lastEmbSeq())
	if got := spaceStats(r.r, testSpace.Name); got.Vectors != 50 || got.Applied != 10 {
		t.Fatalf("after 10 new products: %+v", got)
	}
	// Close writes a snapshot again since the space changed; a third
	// ranker restores it with 50 vectors.
	if err := r.r.Close(); err != nil {
		t.Fatal(err)
	}
	third := e.serve(nil, snapOpts(st)...)
	third.waitReady(t, "")
	if got := spaceStats(third.r, testSpace.Name); got.Vectors != 50 || got.SnapshotSeq != e.lastEmbSeq() {
		t.Fatalf("third ranker: %+v", got)
	}
}
