package index

// cand is a node and its similarity to the query.
type cand struct {
	sim float32
	id  uint32
}

// minHeap keeps the lowest similarity on top: the worst of a result set.
type minHeap []cand

func (h *minHeap) push(c cand) {
	s := append(*h, c)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].sim <= s[i].sim {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *minHeap) pop() cand {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	s.down()
	*h = s
	return top
}

// replaceTop swaps the top for c and restores the heap; cheaper than pop+push.
func (h minHeap) replaceTop(c cand) {
	h[0] = c
	h.down()
}

// down sifts the top element to its place.
func (h minHeap) down() {
	n := len(h)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h[r].sim < h[l].sim {
			m = r
		}
		if h[i].sim <= h[m].sim {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// maxHeap keeps the highest similarity on top: the best unexplored
// candidate. It is a minHeap of negated similarities, so one sift serves
// both orders (negation is exact for floats, and ties stay ties).
type maxHeap struct{ h minHeap }

func (h *maxHeap) push(c cand) {
	c.sim = -c.sim
	h.h.push(c)
}

func (h *maxHeap) pop() cand {
	c := h.h.pop()
	c.sim = -c.sim
	return c
}

// len is the number of candidates held.
func (h *maxHeap) len() int { return len(h.h) }

// reset empties the heap, keeping its storage.
func (h *maxHeap) reset() { h.h = h.h[:0] }

// topK accumulates the k best candidates.
type topK struct {
	k int
	h minHeap
}

func (t *topK) offer(c cand) {
	if len(t.h) < t.k {
		t.h.push(c)
		return
	}
	if c.sim > t.h[0].sim {
		t.h.replaceTop(c)
	}
}

// sortedDesc empties the heap into a slice sorted by similarity descending.
func (h *minHeap) sortedDesc() []cand {
	out := make([]cand, len(*h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = h.pop()
	}
	return out
}
