package ranker

import (
	"context"

	"github.com/omnirank/omnirank/internal/cputime"
	"github.com/omnirank/omnirank/ranker/lexical"
)

// VectorOf returns the vector the ranker holds for a product in a space
// (tests compare rankers' index contents with it).
func (r *Ranker) VectorOf(space, id string) ([]float32, bool) {
	s, err := r.space(space)
	if err != nil {
		return nil, false
	}
	return s.vector(id)
}

// RevisionOf returns the revision applied for a product in a space and
// whether it was a tombstone.
func (r *Ranker) RevisionOf(space, id string) (rev uint64, deleted, ok bool) {
	s, err := r.space(space)
	if err != nil {
		return 0, false, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	rs, ok := s.revs[id]
	return rs.revision, rs.deleted, ok
}

// ProcessCPU is the process's CPU time so far (benchmarks report CPU per
// operation, which other processes on the machine do not inflate).
var ProcessCPU = cputime.Process

// HoldCPU takes every CPU slot (see cpuGate) and returns the function that
// gives them back.
func (r *Ranker) HoldCPU() (release func()) {
	for range cap(r.cpu) {
		r.cpu <- struct{}{}
	}
	return func() {
		for range cap(r.cpu) {
			<-r.cpu
		}
	}
}

// CPUHeld is the number of CPU slots taken.
func (r *Ranker) CPUHeld() int { return len(r.cpu) }

// LexicalHits is the lexical-only ranking of text among the products of
// a space that accept admits, with BM25 scores: the reference hybrid
// rankings are checked against.
func (r *Ranker) LexicalHits(ctx context.Context, space, text string, k int, accept func(id string) bool) ([]lexical.Hit, error) {
	s, err := r.space(space)
	if err != nil {
		return nil, err
	}
	return r.lex.Load().Search(ctx, text, lexical.SearchOptions{K: k, Accept: func(id string) bool {
		return s.has(id) && (accept == nil || accept(id))
	}})
}

// PopularityOf is a product's stored (undecayed) popularity sum.
func (r *Ranker) PopularityOf(id string) float64 {
	r.fb.mu.RLock()
	defer r.fb.mu.RUnlock()
	return r.fb.pop[id]
}

// CooccurrenceOf is the co-occurrence count of b with a.
func (r *Ranker) CooccurrenceOf(a, b string) float32 {
	r.fb.mu.RLock()
	defer r.fb.mu.RUnlock()
	return r.fb.cooc[a][b]
}

// NextItemOf is the count of users going on to b after a.
func (r *Ranker) NextItemOf(a, b string) float32 {
	r.fb.mu.RLock()
	defer r.fb.mu.RUnlock()
	return r.fb.next[a][b]
}

// KnowsUser reports whether the ranker holds a history of user.
func (r *Ranker) KnowsUser(user string) bool {
	_, ok := r.fb.user(user)
	return ok
}
