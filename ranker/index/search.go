package index

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Search strategy thresholds.
const (
	// exactScanMax: when at most this many vectors can match, scan them
	// exactly instead of walking the graph.
	exactScanMax = 2048
	// exactScanSelectivity: filters accepting less than this fraction are
	// answered by an exact scan over the accepted ids.
	exactScanSelectivity = 0.02
	// selectivitySamples is how many nodes the selectivity estimate checks.
	selectivitySamples = 512
)

// searcher holds per-search scratch space, pooled to keep searches free of
// allocations.
type searcher struct {
	visited []uint32 // generation stamps per node
	gen     uint32
	cands   maxHeap
	results minHeap
	res     []cand // sorted results of the last searchLayer
	sel     []cand // selectNeighbours output
	fwd     []cand // forward links being written
	prune   []cand // pruning pool
	qcode   []int8 // quantised query
	batch   []uint32
}

func (h *HNSW) getSearcher() *searcher {
	s, _ := h.searchers.Get().(*searcher)
	if s == nil {
		s = &searcher{}
	}
	if c := h.capacity(); len(s.visited) < c {
		s.visited = make([]uint32, c)
		s.gen = 0
	}
	return s
}

func (h *HNSW) putSearcher(s *searcher) { h.searchers.Put(s) }

// nextGen starts a new visited generation.
func (s *searcher) nextGen() {
	s.gen++
	if s.gen == 0 {
		clear(s.visited)
		s.gen = 1
	}
}

// filterSpec says which nodes a query search may return.
type filterSpec struct {
	fn func(id string) bool
}

// admit reports whether node n may enter the result set.
func (h *HNSW) admit(f *filterSpec, n uint32) bool {
	if f == nil {
		return true // construction: every node helps navigation
	}
	if atomic.LoadUint32(&h.state[n]) != stateLive {
		return false
	}
	return f.fn == nil || f.fn(h.nodeIDs[n])
}

// simQ is the approximate similarity of a quantised query to node n.
func (h *HNSW) simQ(qc []int8, qs float32, n uint32) float32 {
	return float32(dotInt8(qc, h.code(n))) * qs * h.scales[n]
}

// sim is the similarity of the query to node n, quantised when qc != nil.
func (h *HNSW) sim(q []float32, qc []int8, qs float32, n uint32) float32 {
	if qc != nil {
		return h.simQ(qc, qs, n)
	}
	return dotF32(q, h.vec(n))
}

// greedy walks layer lc towards the query, one best neighbour at a time.
func (h *HNSW) greedy(q []float32, qc []int8, qs float32, cur cand, lc int) cand {
	for changed := true; changed; {
		changed = false
		list, off, _ := h.linkList(cur.id, lc)
		cnt := int(atomic.LoadUint32(&list[off]))
		for i := 1; i <= cnt; i++ {
			nb := atomic.LoadUint32(&list[off+i])
			if s := h.sim(q, qc, qs, nb); s > cur.sim {
				cur = cand{sim: s, id: nb}
				changed = true
			}
		}
	}
	return cur
}

// searchLayer is the HNSW beam search on layer lc from ep with a dynamic
// list of ef results. With f == nil (construction) every node is a result;
// otherwise only live nodes the filter accepts are, while every node is
// traversed. The result, best first, aliases s.res.
func (h *HNSW) searchLayer(ctx context.Context, s *searcher, q []float32, qc []int8, qs float32, ep cand, ef, lc int, f *filterSpec) ([]cand, error) {
	s.nextGen()
	gen := s.gen
	visited := s.visited
	cands := s.cands
	cands.reset()
	results := s.results[:0]
	visited[ep.id] = gen
	cands.push(ep)
	lower := float32(math.Inf(-1))
	if h.admit(f, ep.id) {
		results.push(ep)
		lower = ep.sim
	}
	var err error
	for iter := 1; cands.len() > 0; iter++ {
		c := cands.pop()
		if c.sim < lower && len(results) >= ef {
			break
		}
		if f != nil && iter&63 == 0 {
			if err = ctx.Err(); err != nil {
				break
			}
			// A filtered walk can expand thousands of nodes: yield now
			// and then so that goroutines waiting for this P (the gRPC
			// transport's readers and writers) are not held up for a whole
			// scheduler time slice.
			runtime.Gosched()
		}
		list, off, _ := h.linkList(c.id, lc)
		cnt := int(atomic.LoadUint32(&list[off]))
		// Collect the unvisited neighbours and prefetch their vectors so the
		// memory loads overlap instead of stalling one dot product at a time.
		batch := s.batch[:0]
		for i := 1; i <= cnt; i++ {
			nb := atomic.LoadUint32(&list[off+i])
			if visited[nb] != gen {
				visited[nb] = gen
				batch = append(batch, nb)
			}
		}
		s.batch = batch
		// Memory latency, not arithmetic, bounds this loop: ask for the
		// first two cache lines of every neighbour's vector (or code) at
		// once, the whole of the first two, and then, while scoring
		// neighbour j, the whole of neighbour j+2.
		base, stride := unsafe.Pointer(unsafe.SliceData(h.vecs)), 4*h.dim
		if qc != nil {
			base, stride = unsafe.Pointer(unsafe.SliceData(h.codes)), h.dim
		}
		lines := (stride + 63) / 64
		prefetchRows(base, batch, stride)
		for j := 0; j < len(batch) && j < 2; j++ {
			prefetchLines(unsafe.Add(base, int(batch[j])*stride), lines)
		}
		for j, nb := range batch {
			if j+2 < len(batch) {
				prefetchLines(unsafe.Add(base, int(batch[j+2])*stride), lines)
			}
			sim := h.sim(q, qc, qs, nb)
			if len(results) < ef || sim > lower {
				cands.push(cand{sim: sim, id: nb})
				if h.admit(f, nb) {
					if len(results) < ef {
						results.push(cand{sim: sim, id: nb})
					} else {
						results.replaceTop(cand{sim: sim, id: nb})
					}
					lower = results[0].sim
				}
			}
		}
	}
	// Drain results best-first into s.res.
	out := s.res[:0]
	if cap(out) < len(results) {
		out = make([]cand, 0, 2*len(results))
	}
	out = out[:len(results)]
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = results.pop()
	}
	s.cands, s.results, s.res = cands, results, out
	return out, err
}

// liveCount is the number of live ids.
func (h *HNSW) liveCount() int {
	h.idMu.Lock()
	defer h.idMu.Unlock()
	return len(h.ids)
}

// Search returns up to opts.K live vectors most similar to q, best first.
// Filtered searches scan the accepted ids exactly when few can match and walk
// the graph, admitting only accepted ids, otherwise. Filter must not call
// back into the index.
func (h *HNSW) Search(ctx context.Context, q []float32, opts SearchOptions) ([]Hit, error) {
	ef, err := checkSearch(h.dim, q, opts)
	if err != nil {
		return nil, fmt.Errorf("hnsw search: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("hnsw search: %w", err)
	}
	h.growMu.RLock()
	defer h.growMu.RUnlock()
	live := h.liveCount()
	if live == 0 {
		return nil, nil
	}
	sel := 1.0
	if opts.Filter != nil {
		sel = opts.Selectivity
		if sel == 0 {
			sel = h.estimateSelectivity(opts.Filter)
		}
	}
	exact := sel*float64(live) <= exactScanMax || sel < exactScanSelectivity
	switch h.forceStrategy {
	case 1:
		exact = true
	case 2:
		exact = false
	}
	var hits []Hit
	if exact {
		hits, err = h.exactScan(ctx, q, opts.K, opts.Filter)
	} else {
		if sel < 1 {
			ef = min(int(math.Ceil(float64(ef)/math.Sqrt(max(sel, 1e-6)))), live)
			ef = max(ef, opts.K)
		}
		hits, err = h.graphSearch(ctx, q, opts.K, ef, opts.Filter)
	}
	if err != nil {
		return nil, fmt.Errorf("hnsw search: %w", err)
	}
	return hits, nil
}

// graphSearch descends the layers and beam-searches layer 0; growMu held.
func (h *HNSW) graphSearch(ctx context.Context, q []float32, k, ef int, filter func(string) bool) ([]Hit, error) {
	ep, top, ok := h.entryPoint()
	if !ok {
		return nil, nil
	}
	s := h.getSearcher()
	defer h.putSearcher(s)
	var qc []int8
	var qs float32
	if h.quant.hasCodes() {
		if cap(s.qcode) < h.dim {
			s.qcode = make([]int8, h.dim)
		}
		qc = s.qcode[:h.dim]
		qs = quantize(qc, q)
	}
	cur := cand{sim: h.sim(q, qc, qs, ep), id: ep}
	for lc := top; lc > 0; lc-- {
		cur = h.greedy(q, qc, qs, cur, lc)
	}
	res, err := h.searchLayer(ctx, s, q, qc, qs, cur, ef, 0, &filterSpec{fn: filter})
	if err != nil {
		return nil, err
	}
	if qc != nil {
		// Re-score the quantised candidates with the float query against
		// the float vectors (or the dequantised codes).
		for i := range res {
			res[i].sim = h.exactSim(q, res[i].id)
		}
		sortDesc(res)
	}
	return h.toHits(res, k), nil
}

// toHits maps the best k candidates to hits. An id replaced while the search
// ran can show up twice (its old node read before the swap, its new node
// after); only its first, best-scored occurrence is kept.
func (h *HNSW) toHits(res []cand, k int) []Hit {
	hits := make([]Hit, 0, min(k, len(res)))
	for _, c := range res {
		if len(hits) == k {
			break
		}
		id := h.nodeIDs[c.id]
		dup := false
		for _, x := range hits {
			if x.ID == id {
				dup = true
				break
			}
		}
		if !dup {
			hits = append(hits, Hit{ID: id, Score: c.sim})
		}
	}
	return hits
}

// exactScan scores every live accepted node; growMu held.
func (h *HNSW) exactScan(ctx context.Context, q []float32, k int, filter func(string) bool) ([]Hit, error) {
	n := int(h.nodes.Load())
	// One spare slot absorbs an id replaced during the scan (see toHits).
	t := topK{k: k + 1, h: make(minHeap, 0, k+1)}
	for i := 0; i < n; i++ {
		if i&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			runtime.Gosched() // see searchLayer
		}
		if atomic.LoadUint32(&h.state[i]) != stateLive {
			continue
		}
		if filter != nil && !filter(h.nodeIDs[i]) {
			continue
		}
		t.offer(cand{sim: h.exactSim(q, uint32(i)), id: uint32(i)})
	}
	return h.toHits(t.h.sortedDesc(), k), nil
}

// estimateSelectivity checks the filter on up to selectivitySamples live
// nodes spread evenly over the slab; growMu held.
func (h *HNSW) estimateSelectivity(filter func(string) bool) float64 {
	n := int(h.nodes.Load())
	step := max(1, n/selectivitySamples)
	seen, acc := 0, 0
	for i := 0; i < n; i += step {
		if atomic.LoadUint32(&h.state[i]) != stateLive {
			continue
		}
		seen++
		if filter(h.nodeIDs[i]) {
			acc++
		}
	}
	if seen == 0 {
		return 1
	}
	return float64(acc) / float64(seen)
}
