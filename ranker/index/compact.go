package index

// slabs holds an HNSW's storage while Compact rebuilds it.
type slabs struct {
	vecs, scales            []float32
	codes                   []int8
	links0, upper, upperOff []uint32
	state                   []uint32
	levels                  []uint8
	nodeIDs                 []string
}

// Stats reports the index's size and memory use.
func (h *HNSW) Stats() Stats {
	h.growMu.RLock()
	defer h.growMu.RUnlock()
	h.idMu.Lock()
	defer h.idMu.Unlock()
	n := int(h.nodes.Load())
	_, top, _ := h.entryPoint()
	st := Stats{
		Nodes:       n,
		Live:        len(h.ids),
		Tombstones:  h.tombstones,
		MaxLevel:    top,
		VectorBytes: int64(n * h.dim * 4),
		LinkBytes:   int64(n*(h.m0+1)*4 + h.upperLen*4),
		NodeBytes:   int64(n * (1 + 4 + 4 + 8)), // level, state, upperOff, lock
		IDBytes:     idBytes(h.nodeIDs[:n]),
		// One search's visited table covers every node slot.
		ScratchBytes: int64(4 * h.capacity()),
	}
	if !h.quant.hasFloats() {
		st.VectorBytes = 0
	}
	if h.quant.hasCodes() {
		st.QuantBytes = int64(n * (h.dim + 4))
	}
	st.finish()
	return st
}

// Compact repairs the graph around tombstoned nodes and drops them: every
// live node that linked to a tombstone gets replacement neighbours chosen
// with the HNSW heuristic from its live neighbours and the tombstone's live
// neighbours, then live nodes are renumbered into fresh, exactly sized slabs.
// Searches and inserts wait while it runs.
func (h *HNSW) Compact() {
	h.growMu.Lock()
	defer h.growMu.Unlock()
	h.idMu.Lock()
	defer h.idMu.Unlock()
	if h.tombstones == 0 {
		return
	}
	n := int(h.nodes.Load())
	dead := func(x uint32) bool { return h.state[x] == stateDeleted }
	s := &searcher{}
	// Repair lists in place first; the new lists reference only live nodes.
	var pool []cand
	seen := make(map[uint32]struct{})
	for i := 0; i < n; i++ {
		u := uint32(i)
		if dead(u) {
			continue
		}
		for lc := 0; lc <= int(h.levels[u]); lc++ {
			list, off, capacity := h.linkList(u, lc)
			cnt := int(list[off])
			hasDead := false
			for j := 1; j <= cnt; j++ {
				if dead(list[off+j]) {
					hasDead = true
					break
				}
			}
			if !hasDead {
				continue
			}
			pool = pool[:0]
			clear(seen)
			add := func(x uint32) {
				if x == u || dead(x) {
					return
				}
				if _, ok := seen[x]; ok {
					return
				}
				seen[x] = struct{}{}
				pool = append(pool, cand{sim: h.nodeSim(u, x), id: x})
			}
			for j := 1; j <= cnt; j++ {
				x := list[off+j]
				if !dead(x) {
					add(x)
					continue
				}
				if int(h.levels[x]) < lc {
					continue
				}
				xl, xo, _ := h.linkList(x, lc)
				for k := 1; k <= int(xl[xo]); k++ {
					add(xl[xo+k])
				}
			}
			sortDesc(pool)
			sel := h.selectNeighbours(s, pool, capacity, u)
			for j, c := range sel {
				list[off+1+j] = c.id
			}
			list[off] = uint32(len(sel))
		}
	}
	// Renumber live nodes.
	remap := make([]uint32, n)
	live := 0
	upperLen := 0
	newEP, newTop := uint32(0), -1
	oldEP, _, _ := h.entryPoint()
	for i := 0; i < n; i++ {
		if dead(uint32(i)) {
			continue
		}
		remap[i] = uint32(live)
		l := int(h.levels[i])
		upperLen += l * (h.m + 1)
		if l > newTop || (l == newTop && uint32(i) == oldEP) {
			newEP, newTop = uint32(live), l
		}
		live++
	}
	old := slabs{vecs: h.vecs, codes: h.codes, scales: h.scales, links0: h.links0, upper: h.upper,
		upperOff: h.upperOff, levels: h.levels, state: h.state, nodeIDs: h.nodeIDs}
	h.nodes.Store(0)
	h.upperLen = 0
	h.vecs, h.codes, h.scales, h.links0, h.upper, h.upperOff = nil, nil, nil, nil, nil, nil
	h.levels, h.state, h.nodeIDs = nil, nil, nil
	h.resize(live, upperLen)
	for i := 0; i < n; i++ {
		if old.state[i] == stateDeleted {
			continue
		}
		u := remap[i]
		if h.quant.hasFloats() {
			copy(h.vecs[int(u)*h.dim:int(u+1)*h.dim], old.vecs[i*h.dim:(i+1)*h.dim])
		}
		if h.quant.hasCodes() {
			copy(h.codes[int(u)*h.dim:int(u+1)*h.dim], old.codes[i*h.dim:(i+1)*h.dim])
			h.scales[u] = old.scales[i]
		}
		l := int(old.levels[i])
		h.levels[u] = uint8(l)
		h.state[u] = stateLive
		h.nodeIDs[u] = old.nodeIDs[i]
		h.ids[old.nodeIDs[i]] = u
		if l > 0 {
			h.upperOff[u] = uint32(h.upperLen)
			h.upperLen += l * (h.m + 1)
		}
		for lc := 0; lc <= l; lc++ {
			src, so := old.links0, i*(h.m0+1)
			if lc > 0 {
				src, so = old.upper, int(old.upperOff[i])+(lc-1)*(h.m+1)
			}
			dst, do, _ := h.linkList(u, lc)
			cnt := int(src[so])
			dst[do] = uint32(cnt)
			for j := 1; j <= cnt; j++ {
				dst[do+j] = remap[src[so+j]]
			}
		}
	}
	h.nodes.Store(uint32(live))
	h.tombstones = 0
	if live == 0 {
		h.entry.Store(0)
	} else {
		h.entry.Store(packEntry(newEP, newTop))
	}
}
