package index

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHeaps: the result heap keeps the k best and drains them best first;
// the candidate heap pops best first.
func TestHeaps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sims := make([]float32, 500)
	for i := range sims {
		sims[i] = rng.Float32()*2 - 1
	}
	want := slices.Clone(sims)
	slices.Sort(want)
	slices.Reverse(want)

	var cands maxHeap
	for i, s := range sims {
		cands.push(cand{sim: s, id: uint32(i)})
	}
	for i, w := range want {
		if c := cands.pop(); c.sim != w || sims[c.id] != w {
			t.Fatalf("candidate %d: %+v, want sim %v", i, c, w)
		}
	}
	tk := topK{k: 10}
	for i, s := range sims {
		tk.offer(cand{sim: s, id: uint32(i)})
	}
	got := tk.h.sortedDesc()
	for i, c := range got {
		if c.sim != want[i] {
			t.Fatalf("top %d: %v, want %v", i, c.sim, want[i])
		}
	}
	if len(got) != 10 {
		t.Fatalf("%d results, want 10", len(got))
	}
}

// BenchmarkHeaps is searchLayer's heap traffic without the distances: 2,000
// candidates pushed and popped best first, and a result heap of ef=64
// offered each of them.
func BenchmarkHeaps(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	sims := make([]float32, 2000)
	for i := range sims {
		sims[i] = rng.Float32()*2 - 1
	}
	var cands maxHeap
	tk := topK{k: 64, h: make(minHeap, 0, 64)}
	for b.Loop() {
		tk.h = tk.h[:0]
		for i, s := range sims {
			cands.push(cand{sim: s, id: uint32(i)})
			tk.offer(cand{sim: s, id: uint32(i)})
		}
		for range sims {
			cands.pop()
		}
	}
}
