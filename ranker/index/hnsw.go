package index

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Node states, stored atomically per node.
const (
	statePending uint32 = iota // allocated and being linked, not yet visible
	stateLive                  // returned by searches
	stateDeleted               // tombstone: traversed, never returned
)

// maxLevel caps the number of layers.
const maxLevel = 31

// HNSW is a hierarchical navigable small-world graph index. It is safe for
// concurrent use: searches read the graph without locks (atomic loads),
// inserts lock only the neighbour lists they change, and the whole index is
// write-locked only to grow its slabs or to compact tombstones.
type HNSW struct {
	dim       int
	m, m0     int // max links on upper layers / layer 0
	efc       int
	levelMult float64
	quant     Quantization
	seed      uint64
	compact   float64

	// growMu is read-locked by every operation and write-locked only to
	// replace the slabs below (growth, compaction, load).
	growMu   sync.RWMutex
	vecs     []float32    // node n at [n*dim, (n+1)*dim) (not QuantInt8Only)
	codes    []int8       // int8 codes, same layout (QuantInt8, QuantInt8Only)
	scales   []float32    // per-node code scale (QuantInt8, QuantInt8Only)
	links0   []uint32     // node n at [n*(m0+1)]: count, then m0 slots
	upper    []uint32     // per upper layer of a node: count, then m slots
	upperOff []uint32     // node -> offset of its layer-1 list in upper
	levels   []uint8      // top layer of each node
	state    []uint32     // statePending / stateLive / stateDeleted (atomic)
	nodeIDs  []string     // node -> id, written once at allocation
	locks    []sync.Mutex // per-node neighbour-list locks

	nodes atomic.Uint32 // allocated nodes, live or not
	entry atomic.Uint64 // (entry node << 32) | (top layer + 1); 0 = empty
	epMu  sync.Mutex    // serialises entry-point changes

	// idMu guards the fields below.
	idMu       sync.Mutex
	ids        map[string]uint32 // live id -> node
	upperLen   int
	rng        *rand.Rand
	pcg        *rand.PCG
	tombstones int

	compacting atomic.Bool
	searchers  sync.Pool // *searcher

	// forceStrategy is a test hook: 0 automatic, 1 always exact scan,
	// 2 always graph search when filtering.
	forceStrategy int
}

// NewHNSW returns an empty HNSW index for vectors of length dim.
func NewHNSW(dim int, opts ...Option) (*HNSW, error) {
	if dim <= 0 || dim > 1<<16 {
		return nil, fmt.Errorf("%w: dim %d outside [1, 65536]", ErrInvalidOption, dim)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil option", ErrInvalidOption)
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return newHNSW(dim, cfg), nil
}

func newHNSW(dim int, cfg config) *HNSW {
	pcg := rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)
	h := &HNSW{
		dim:       dim,
		m:         cfg.m,
		m0:        2 * cfg.m,
		efc:       cfg.efConstruction,
		levelMult: 1 / math.Log(float64(cfg.m)),
		quant:     cfg.quant,
		seed:      cfg.seed,
		compact:   cfg.compactRatio,
		ids:       make(map[string]uint32, cfg.capacity),
		pcg:       pcg,
		rng:       rand.New(pcg),
	}
	if cfg.capacity > 0 {
		h.resize(cfg.capacity, cfg.capacity/cfg.m*(cfg.m+1)*2+64)
	}
	return h
}

// Dim returns the vector length.
func (h *HNSW) Dim() int { return h.dim }

// Len returns the number of live vectors.
func (h *HNSW) Len() int {
	h.idMu.Lock()
	defer h.idMu.Unlock()
	return len(h.ids)
}

// Quantization reports the traversal representation.
func (h *HNSW) Quantization() Quantization { return h.quant }

// M reports the upper-layer link count.
func (h *HNSW) M() int { return h.m }

// EfConstruction reports the insertion candidate list size.
func (h *HNSW) EfConstruction() int { return h.efc }

// capacity is the number of node slots; callers hold growMu.
func (h *HNSW) capacity() int { return len(h.levels) }

// resize reallocates every slab to hold nodeCap nodes and upperCap upper
// link words, keeping contents. The caller holds growMu for writing (or owns
// h exclusively).
func (h *HNSW) resize(nodeCap, upperCap int) {
	n := int(h.nodes.Load())
	grow := func(dst, src []uint32) []uint32 { copy(dst, src); return dst }
	if h.quant.hasFloats() {
		h.vecs = append(make([]float32, 0, nodeCap*h.dim), h.vecs[:n*h.dim]...)[:nodeCap*h.dim]
	}
	if h.quant.hasCodes() {
		h.codes = append(make([]int8, 0, nodeCap*h.dim), h.codes[:n*h.dim]...)[:nodeCap*h.dim]
		h.scales = append(make([]float32, 0, nodeCap), h.scales[:n]...)[:nodeCap]
	}
	h.links0 = grow(make([]uint32, nodeCap*(h.m0+1)), h.links0[:n*(h.m0+1)])
	h.upper = grow(make([]uint32, upperCap), h.upper[:h.upperLen])
	h.upperOff = grow(make([]uint32, nodeCap), h.upperOff[:n])
	h.state = grow(make([]uint32, nodeCap), h.state[:n])
	h.levels = append(make([]uint8, 0, nodeCap), h.levels[:n]...)[:nodeCap]
	h.nodeIDs = append(make([]string, 0, nodeCap), h.nodeIDs[:n]...)[:nodeCap]
	h.locks = make([]sync.Mutex, nodeCap) // all unlocked: no insert is in flight
}

// grow makes room for one more node of the given level.
func (h *HNSW) grow(level int) {
	h.growMu.Lock()
	defer h.growMu.Unlock()
	h.idMu.Lock()
	defer h.idMu.Unlock()
	n := int(h.nodes.Load())
	nodeCap, upperCap := h.capacity(), len(h.upper)
	if n >= nodeCap {
		nodeCap = max(2*nodeCap, 1024)
	}
	if need := h.upperLen + level*(h.m+1); need > upperCap {
		upperCap = max(2*upperCap, need, 1024)
	}
	if nodeCap != h.capacity() || upperCap != len(h.upper) {
		h.resize(nodeCap, upperCap)
	}
}

// randomLevel draws a layer from the exponential distribution; idMu held.
func (h *HNSW) randomLevel() int {
	u := 1 - h.rng.Float64() // (0, 1]
	l := int(-math.Log(u) * h.levelMult)
	return min(l, maxLevel)
}

// allocate reserves a node slot for id; idMu and growMu (read) held.
func (h *HNSW) allocate(id string, level int) (uint32, bool) {
	n := h.nodes.Load()
	if int(n) >= h.capacity() || h.upperLen+level*(h.m+1) > len(h.upper) {
		return 0, false
	}
	if level > 0 {
		h.upperOff[n] = uint32(h.upperLen)
		h.upperLen += level * (h.m + 1)
	}
	h.levels[n] = uint8(level)
	h.nodeIDs[n] = id
	atomic.StoreUint32(&h.state[n], statePending)
	h.nodes.Store(n + 1)
	return n, true
}

// Upsert inserts vec under id or replaces the vector stored under id.
func (h *HNSW) Upsert(id string, vec []float32) error {
	if err := checkUpsert(h.dim, id, vec); err != nil {
		return fmt.Errorf("upsert %q: %w", id, err)
	}
	h.idMu.Lock()
	level := h.randomLevel()
	h.idMu.Unlock()
	if h.nodes.Load() >= maxCapacity-1 {
		return fmt.Errorf("upsert %q: %w: index full", id, ErrInvalidOption)
	}
	for {
		h.growMu.RLock()
		h.idMu.Lock()
		n, ok := h.allocate(id, level)
		h.idMu.Unlock()
		if ok {
			h.insert(n, level, vec)
			h.growMu.RUnlock()
			break
		}
		h.growMu.RUnlock()
		h.grow(level)
	}
	h.maybeCompact()
	return nil
}

// insert writes the node's vector, links it into the graph and publishes it;
// growMu (read) held.
func (h *HNSW) insert(n uint32, level int, vec []float32) {
	if h.quant.hasFloats() {
		copy(h.vec(n), vec)
	}
	if h.quant.hasCodes() {
		h.scales[n] = quantize(h.code(n), vec)
	}
	h.link(n, level)

	h.idMu.Lock()
	id := h.nodeIDs[n]
	if old, ok := h.ids[id]; ok {
		atomic.StoreUint32(&h.state[old], stateDeleted)
		h.tombstones++
	}
	h.ids[id] = n
	atomic.StoreUint32(&h.state[n], stateLive)
	h.idMu.Unlock()
}

// Delete tombstones id; it stops appearing in results at once and its node
// is dropped from the graph by the next compaction.
func (h *HNSW) Delete(id string) bool {
	h.growMu.RLock()
	h.idMu.Lock()
	n, ok := h.ids[id]
	if ok {
		delete(h.ids, id)
		atomic.StoreUint32(&h.state[n], stateDeleted)
		h.tombstones++
	}
	h.idMu.Unlock()
	h.growMu.RUnlock()
	if ok {
		h.maybeCompact()
	}
	return ok
}

// Get returns a copy of the vector stored under id. With QuantInt8Only it
// is the dequantised vector (code × scale), within max|v_i|/254 of the
// original in every component.
func (h *HNSW) Get(id string) ([]float32, bool) {
	h.growMu.RLock()
	defer h.growMu.RUnlock()
	h.idMu.Lock()
	n, ok := h.ids[id]
	h.idMu.Unlock()
	if !ok {
		return nil, false
	}
	if !h.quant.hasFloats() {
		v := make([]float32, h.dim)
		dequantize(v, h.code(n), h.scales[n])
		return v, true
	}
	return append([]float32(nil), h.vec(n)...), true
}

// Tombstones reports deleted or replaced nodes still held in the graph.
func (h *HNSW) Tombstones() int {
	h.idMu.Lock()
	defer h.idMu.Unlock()
	return h.tombstones
}

// UpsertBatch upserts vecs[i] under ids[i] using workers goroutines (<= 0
// means 1). It stops at the first error or when ctx is done.
func (h *HNSW) UpsertBatch(ctx context.Context, ids []string, vecs [][]float32, workers int) error {
	return upsertBatch(ctx, h, ids, vecs, workers)
}

func upsertBatch(ctx context.Context, ix Index, ids []string, vecs [][]float32, workers int) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("%w: %d ids for %d vectors", ErrInvalidOption, len(ids), len(vecs))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				if err := ix.Upsert(ids[i], vecs[i]); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// vec returns node n's stored vector (not a copy); growMu held. Only for
// quantisations that keep floats.
func (h *HNSW) vec(n uint32) []float32 {
	o := int(n) * h.dim
	return h.vecs[o : o+h.dim : o+h.dim]
}

// code returns node n's int8 code (not a copy); growMu held. Only for
// quantisations that keep codes.
func (h *HNSW) code(n uint32) []int8 {
	o := int(n) * h.dim
	return h.codes[o : o+h.dim : o+h.dim]
}

// nodeSim is the similarity of two stored nodes: the float dot product, or
// the scaled int8 dot product with QuantInt8Only; growMu held.
func (h *HNSW) nodeSim(a, b uint32) float32 {
	if h.quant.hasFloats() {
		return dotF32(h.vec(a), h.vec(b))
	}
	return float32(dotInt8(h.code(a), h.code(b))) * h.scales[a] * h.scales[b]
}

// exactSim is the most exact similarity of the query to node n the index
// can compute: float against float, or float against the dequantised code
// with QuantInt8Only; growMu held.
func (h *HNSW) exactSim(q []float32, n uint32) float32 {
	if h.quant.hasFloats() {
		return dotF32(q, h.vec(n))
	}
	return dotF32I8(q, h.code(n)) * h.scales[n]
}

// linkList returns the slab and offset of node n's list on layer lc, and the
// list's capacity; growMu held.
func (h *HNSW) linkList(n uint32, lc int) ([]uint32, int, int) {
	if lc == 0 {
		return h.links0, int(n) * (h.m0 + 1), h.m0
	}
	return h.upper, int(h.upperOff[n]) + (lc-1)*(h.m+1), h.m
}

// entryPoint returns the entry node and top layer, ok=false when empty.
func (h *HNSW) entryPoint() (uint32, int, bool) {
	e := h.entry.Load()
	if e == 0 {
		return 0, 0, false
	}
	return uint32(e >> 32), int(uint32(e)) - 1, true
}

func packEntry(n uint32, level int) uint64 { return uint64(n)<<32 | uint64(level+1) }

// link inserts node n into the graph; growMu (read) held.
func (h *HNSW) link(n uint32, level int) {
	ep, top, ok := h.entryPoint()
	if !ok {
		h.epMu.Lock()
		if ep, top, ok = h.entryPoint(); !ok {
			h.entry.Store(packEntry(n, level))
			h.epMu.Unlock()
			return
		}
		h.epMu.Unlock()
	}
	// The new node is the query: its float vector, or its code with
	// QuantInt8Only.
	var q []float32
	var qc []int8
	var qs float32
	if h.quant.hasFloats() {
		q = h.vec(n)
	} else {
		qc, qs = h.code(n), h.scales[n]
	}
	s := h.getSearcher()
	defer h.putSearcher(s)

	cur := cand{sim: h.nodeSim(n, ep), id: ep}
	for lc := top; lc > level; lc-- {
		cur = h.greedy(q, qc, qs, cur, lc)
	}
	for lc := min(top, level); lc >= 0; lc-- {
		res, _ := h.searchLayer(context.Background(), s, q, qc, qs, cur, h.efc, lc, nil)
		if len(res) > 0 {
			cur = res[0]
		}
		sel := append(s.fwd[:0], h.selectNeighbours(s, res, h.m, n)...)
		s.fwd = sel
		list, off, _ := h.linkList(n, lc)
		h.locks[n].Lock()
		for i, c := range sel {
			atomic.StoreUint32(&list[off+1+i], c.id)
		}
		atomic.StoreUint32(&list[off], uint32(len(sel)))
		h.locks[n].Unlock()
		for _, c := range sel {
			h.addLink(s, c.id, n, c.sim, lc)
		}
	}
	if level > top {
		h.epMu.Lock()
		if _, t, _ := h.entryPoint(); level > t {
			h.entry.Store(packEntry(n, level))
		}
		h.epMu.Unlock()
	}
}

// selectNeighbours picks up to m diverse neighbours from cands (sorted by
// similarity to the base, best first) with the HNSW heuristic: a candidate is
// kept only if it is closer to the base than to every one already kept.
// Tombstones and self are skipped. The result aliases s.sel.
func (h *HNSW) selectNeighbours(s *searcher, cands []cand, m int, self uint32) []cand {
	out := s.sel[:0]
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		if c.id == self || atomic.LoadUint32(&h.state[c.id]) == stateDeleted {
			continue
		}
		good := true
		for _, r := range out {
			if h.nodeSim(c.id, r.id) > c.sim {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	s.sel = out
	return out
}

// addLink adds a back-link from e to n on layer lc, pruning e's list with
// the heuristic when it is full.
func (h *HNSW) addLink(s *searcher, e, n uint32, sim float32, lc int) {
	list, off, capacity := h.linkList(e, lc)
	h.locks[e].Lock()
	defer h.locks[e].Unlock()
	cnt := int(atomic.LoadUint32(&list[off]))
	for i := 1; i <= cnt; i++ {
		if list[off+i] == n {
			return
		}
	}
	if cnt < capacity {
		atomic.StoreUint32(&list[off+1+cnt], n)
		atomic.StoreUint32(&list[off], uint32(cnt+1))
		return
	}
	pool := s.prune[:0]
	pool = append(pool, cand{sim: sim, id: n})
	for i := 1; i <= cnt; i++ {
		id := list[off+i]
		pool = append(pool, cand{sim: h.nodeSim(e, id), id: id})
	}
	sortDesc(pool)
	s.prune = pool
	sel := h.selectNeighbours(s, pool, capacity, e)
	for i, c := range sel {
		atomic.StoreUint32(&list[off+1+i], c.id)
	}
	atomic.StoreUint32(&list[off], uint32(len(sel)))
}

// sortDesc sorts candidates by similarity, best first (insertion sort: the
// lists are short).
func sortDesc(c []cand) {
	for i := 1; i < len(c); i++ {
		x := c[i]
		j := i - 1
		for j >= 0 && c[j].sim < x.sim {
			c[j+1] = c[j]
			j--
		}
		c[j+1] = x
	}
}

// maybeCompact compacts when tombstones exceed the configured ratio.
func (h *HNSW) maybeCompact() {
	if h.compact == 0 {
		return
	}
	h.idMu.Lock()
	need := h.tombstones >= 1024 && float64(h.tombstones) > h.compact*float64(len(h.ids))
	h.idMu.Unlock()
	if need && h.compacting.CompareAndSwap(false, true) {
		defer h.compacting.Store(false)
		h.Compact()
	}
}
