package index

import (
	"context"
	"fmt"
	"sync"
)

// Flat is an exact brute-force index: every search scores every live
// vector. Vectors live in one contiguous slab; Delete moves the last vector
// into the hole. It is safe for concurrent use.
type Flat struct {
	dim  int
	mu   sync.RWMutex
	vecs []float32 // row i at [i*dim, (i+1)*dim)
	keys []string  // row -> id
	ids  map[string]int
}

// NewFlat returns an empty exact index for vectors of length dim. With
// dim <= 0 every Upsert and Search fails with ErrDimension.
func NewFlat(dim int) *Flat {
	return &Flat{dim: dim, ids: make(map[string]int)}
}

// NewFlatFromRows returns an exact index over rows, row i (at
// [i*dim, (i+1)*dim)) stored under ids[i], without copying: the index
// aliases rows, so that a bulk of vectors held elsewhere (a benchmark's
// dataset) is not held twice. The caller must not modify rows afterwards;
// the index's own Upsert and Delete may.
func NewFlatFromRows(dim int, rows []float32, ids []string) (*Flat, error) {
	if dim <= 0 || len(rows) != dim*len(ids) {
		return nil, fmt.Errorf("%w: %d floats for %d ids of dimension %d", ErrDimension, len(rows), len(ids), dim)
	}
	f := &Flat{dim: dim, vecs: rows[:len(rows):len(rows)], keys: ids, ids: make(map[string]int, len(ids))}
	for i, id := range ids {
		if _, dup := f.ids[id]; dup {
			return nil, fmt.Errorf("%w: duplicate id %q", ErrInvalidVector, id)
		}
		f.ids[id] = i
	}
	return f, nil
}

// Dim returns the vector length.
func (f *Flat) Dim() int { return f.dim }

// Len returns the number of vectors.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.keys)
}

// Upsert inserts or replaces the vector stored under id.
func (f *Flat) Upsert(id string, vec []float32) error {
	if err := checkUpsert(f.dim, id, vec); err != nil {
		return fmt.Errorf("upsert %q: %w", id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.ids[id]; ok {
		copy(f.vecs[i*f.dim:(i+1)*f.dim], vec)
		return nil
	}
	f.ids[id] = len(f.keys)
	f.keys = append(f.keys, id)
	f.vecs = append(f.vecs, vec...)
	return nil
}

// UpsertBatch upserts vecs[i] under ids[i].
func (f *Flat) UpsertBatch(ctx context.Context, ids []string, vecs [][]float32) error {
	return upsertBatch(ctx, f, ids, vecs, 1)
}

// Delete removes id and reports whether it was present.
func (f *Flat) Delete(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.ids[id]
	if !ok {
		return false
	}
	last := len(f.keys) - 1
	if i != last {
		copy(f.vecs[i*f.dim:(i+1)*f.dim], f.vecs[last*f.dim:])
		f.keys[i] = f.keys[last]
		f.ids[f.keys[i]] = i
	}
	f.keys[last] = ""
	f.keys = f.keys[:last]
	f.vecs = f.vecs[:last*f.dim]
	delete(f.ids, id)
	return true
}

// Get returns a copy of the vector stored under id.
func (f *Flat) Get(id string) ([]float32, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, ok := f.ids[id]
	if !ok {
		return nil, false
	}
	return append([]float32(nil), f.vecs[i*f.dim:(i+1)*f.dim]...), true
}

// Search returns the exact top opts.K vectors (Ef and Selectivity are
// ignored). Filter must not call back into the index.
func (f *Flat) Search(ctx context.Context, q []float32, opts SearchOptions) ([]Hit, error) {
	if _, err := checkSearch(f.dim, q, opts); err != nil {
		return nil, fmt.Errorf("flat search: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("flat search: %w", err)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	t := topK{k: opts.K, h: make(minHeap, 0, min(opts.K, len(f.keys)))}
	for i := range f.keys {
		if i&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("flat search: %w", err)
			}
		}
		if opts.Filter != nil && !opts.Filter(f.keys[i]) {
			continue
		}
		t.offer(cand{sim: dotF32(q, f.vecs[i*f.dim:(i+1)*f.dim]), id: uint32(i)})
	}
	res := t.h.sortedDesc()
	hits := make([]Hit, len(res))
	for i, c := range res {
		hits[i] = Hit{ID: f.keys[c.id], Score: c.sim}
	}
	return hits, nil
}

// Stats reports the index's memory use.
func (f *Flat) Stats() Stats {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := len(f.keys)
	st := Stats{Nodes: n, Live: n, VectorBytes: int64(n * f.dim * 4), IDBytes: idBytes(f.keys[:n])}
	st.finish()
	return st
}
