package lexical

import (
	"math"
	"slices"
	"strings"
)

// BM25 parameters (Lucene's defaults).
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// posting is one document holding a term, with the term's frequency.
type posting struct {
	doc uint32
	tf  uint32
}

// plist is the postings of one term in one field, in no particular order
// (scoring is term at a time).
type plist struct {
	field int
	term  string
	p     []posting
}

// inverted is the index proper; the Index's invMu guards it.
type inverted struct {
	fields   [numFields]map[string]*plist
	totalLen [numFields]uint64
	// Per document number: the product id ("" when free), the field
	// lengths and the postings lists holding it (for removal).
	ids []string
	// idKeys are the ids' first 8 bytes, big-endian and zero-padded: they
	// order as the ids do, so ties in score rarely compare strings.
	idKeys []uint64
	lens   [][numFields]uint32
	refs   [][]*plist
	byID   map[string]uint32
	free   []uint32
	live   int
	fuzzy  *dictionary
}

func newInverted() *inverted {
	inv := &inverted{byID: map[string]uint32{}, fuzzy: newDictionary()}
	for f := range inv.fields {
		inv.fields[f] = map[string]*plist{}
	}
	return inv
}

// add indexes a product that is not in the index.
func (inv *inverted) add(id string, dt *docTerms) {
	var doc uint32
	if n := len(inv.free); n > 0 {
		doc, inv.free = inv.free[n-1], inv.free[:n-1]
	} else {
		doc = uint32(len(inv.ids))
		inv.ids = append(inv.ids, "")
		inv.idKeys = append(inv.idKeys, 0)
		inv.lens = append(inv.lens, [numFields]uint32{})
		inv.refs = append(inv.refs, nil)
	}
	inv.ids[doc], inv.idKeys[doc], inv.byID[id] = id, idKey(id), doc
	var refs []*plist
	for f := range dt.fields {
		ft := &dt.fields[f]
		inv.lens[doc][f] = ft.length
		inv.totalLen[f] += uint64(ft.length)
		for term, tf := range ft.tf {
			pl := inv.fields[f][term]
			if pl == nil {
				pl = &plist{field: f, term: term}
				inv.fields[f][term] = pl
				if !strings.Contains(term, " ") {
					inv.fuzzy.add(term)
				}
			}
			pl.p = append(pl.p, posting{doc: doc, tf: tf})
			refs = append(refs, pl)
		}
	}
	inv.refs[doc] = refs
	inv.live++
}

// remove drops a product; a product not in the index is a no-op.
func (inv *inverted) remove(id string) {
	doc, ok := inv.byID[id]
	if !ok {
		return
	}
	for _, pl := range inv.refs[doc] {
		if i := slices.IndexFunc(pl.p, func(p posting) bool { return p.doc == doc }); i >= 0 {
			last := len(pl.p) - 1
			pl.p[i] = pl.p[last]
			pl.p = pl.p[:last]
		}
		if len(pl.p) == 0 {
			delete(inv.fields[pl.field], pl.term)
			if !strings.Contains(pl.term, " ") {
				inv.fuzzy.remove(pl.term)
			}
		}
	}
	for f, n := range inv.lens[doc] {
		inv.totalLen[f] -= uint64(n)
	}
	delete(inv.byID, id)
	inv.ids[doc], inv.lens[doc], inv.refs[doc] = "", [numFields]uint32{}, nil
	inv.free = append(inv.free, doc)
	inv.live--
}

// accumulator holds one search's per-document scores; pooled.
type accumulator struct {
	score   []float64
	touched []uint32
	heap    []scored
}

type scored struct {
	doc   uint32
	score float64
}

// scoreClause adds one clause's BM25 to every document holding term in
// field f.
func (inv *inverted) scoreClause(acc *accumulator, f int, term string, weight float64) {
	pl := inv.fields[f][term]
	if pl == nil || weight == 0 {
		return
	}
	n, docs := float64(len(pl.p)), float64(inv.live)
	idf := math.Log(1 + (docs-n+0.5)/(n+0.5))
	avg := float64(inv.totalLen[f]) / docs
	w := weight * idf * (bm25K1 + 1)
	a, c := bm25K1*(1-bm25B), bm25K1*bm25B/avg
	for _, p := range pl.p {
		tf := float64(p.tf)
		s := w * tf / (tf + a + c*float64(inv.lens[p.doc][f]))
		if acc.score[p.doc] == 0 {
			acc.touched = append(acc.touched, p.doc)
		}
		acc.score[p.doc] += s
	}
}

// search scores q term at a time and returns the best K accepted
// documents.
func (inv *inverted) search(acc *accumulator, q query, fw [numFields]float64, opts SearchOptions) []Hit {
	if inv.live == 0 {
		return nil
	}
	if len(acc.score) < len(inv.ids) {
		acc.score = make([]float64, len(inv.ids)+len(inv.ids)/4)
	}
	defer func() {
		for _, d := range acc.touched {
			acc.score[d] = 0
		}
		acc.touched, acc.heap = acc.touched[:0], acc.heap[:0]
	}()
	for _, w := range q.words {
		var near []string
		if w.fuzzy {
			near = inv.fuzzy.neighbours(w.term)
		}
		for f, fwt := range fw {
			if fwt == 0 {
				continue
			}
			inv.scoreClause(acc, f, w.term, fwt*w.weight)
			for _, t := range near {
				inv.scoreClause(acc, f, t, fwt*w.weight*q.fuzzyWeight)
			}
		}
	}
	for _, p := range q.pairs {
		for f, fwt := range fw {
			if fwt > 0 && phraseFields[f] {
				inv.scoreClause(acc, f, p.term, fwt*p.weight)
			}
		}
	}
	return inv.top(acc, opts)
}

// idKey is the first 8 bytes of id, big-endian, zero-padded. Product ids
// hold no NUL byte, so a < b between keys implies id a < id b, and equal
// keys leave the order to the full ids.
func idKey(id string) uint64 {
	var k uint64
	for i := range 8 {
		k <<= 8
		if i < len(id) {
			k |= uint64(id[i])
		}
	}
	return k
}

// better orders hits: higher score, then smaller id.
func (inv *inverted) better(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if ka, kb := inv.idKeys[a.doc], inv.idKeys[b.doc]; ka != kb {
		return ka < kb
	}
	return inv.ids[a.doc] < inv.ids[b.doc]
}

// top returns the best K accepted documents. It selects the best
// candidates by score alone (a bounded heap), then asks Accept in that
// order until K are accepted; the first round selects 1.5·K/Selectivity,
// and when a round runs out the next one selects four times as many among
// the documents below it. So Accept runs about K/selectivity times, never
// for every matching document.
func (inv *inverted) top(acc *accumulator, opts SearchOptions) []Hit {
	m := opts.K
	if opts.Accept != nil {
		// Enough for K accepted at the expected selectivity, with margin.
		sel := opts.Selectivity
		if !(sel > 0 && sel <= 1) {
			sel = 0.25
		}
		m = int(min(float64(opts.K)*1.5/sel+16, float64(len(acc.touched))))
		m = max(m, opts.K)
	}
	out := make([]Hit, 0, opts.K)
	var floor *scored
	for {
		sel := inv.selectTop(acc, m, floor)
		for _, c := range sel {
			id := inv.ids[c.doc]
			if opts.Accept != nil && !opts.Accept(id) {
				continue
			}
			out = append(out, Hit{ID: id, Score: c.score})
			if len(out) == opts.K {
				return out
			}
		}
		if len(sel) < m {
			return out
		}
		last := sel[len(sel)-1]
		floor = &last
		m *= 4
	}
}

// selectTop returns the best m touched documents ranked below floor (all
// when floor is nil), best first.
func (inv *inverted) selectTop(acc *accumulator, m int, floor *scored) []scored {
	h := acc.heap[:0]
	worse := func(i, j int) bool { return inv.better(h[j], h[i]) } // h[i] below h[j]
	down := func(i int) {
		for {
			l, w := 2*i+1, i
			if l < len(h) && worse(l, w) {
				w = l
			}
			if r := l + 1; r < len(h) && worse(r, w) {
				w = r
			}
			if w == i {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for _, d := range acc.touched {
		c := scored{doc: d, score: acc.score[d]}
		if floor != nil && !inv.better(*floor, c) {
			continue
		}
		if len(h) < m {
			h = append(h, c)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !worse(i, p) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
			continue
		}
		if inv.better(c, h[0]) {
			h[0] = c
			down(0)
		}
	}
	acc.heap = h
	out := slices.Clone(h)
	slices.SortFunc(out, func(a, b scored) int {
		if inv.better(a, b) {
			return -1
		}
		return 1
	})
	return out
}
