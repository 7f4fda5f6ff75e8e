package g2p

import (
	"context"
	"fmt"
	"sync"
)

// Letters are coded 1..26 (a..z) and 27 (apostrophe); 28 marks the word
// boundary in contexts. Phones are coded 1..len(phones). A chunk — what
// one letter stands for — is nothing (0), one phone p (p) or two phones
// p, q (p | q<<8).
const (
	letterApos  = 27
	letterEdge  = 28
	numLetters  = 28
	letterBits  = 5
	alignShards = 8 // fixed, so sums come in the same order on any machine
)

func letterCode(c byte) byte {
	if c == '\'' {
		return letterApos
	}
	return c - 'a' + 1
}

// pair is one pronunciation to align: letter codes and phone codes.
type pair struct {
	letters []byte
	phones  []uint8
}

// aligner learns p(chunk | letter) by EM over all monotone alignments in
// which each letter stands for zero, one or two phones.
type aligner struct {
	nPhones int
	// prob[letter][chunkIndex]; chunkIndex: 0 nothing, 1..P one phone,
	// then P*P pairs.
	prob [][]float64
}

func (a *aligner) nChunks() int { return 1 + a.nPhones + a.nPhones*a.nPhones }

func (a *aligner) single(p uint8) int { return int(p) }

func (a *aligner) double(p, q uint8) int {
	return 1 + a.nPhones + (int(p)-1)*a.nPhones + int(q) - 1
}

func newAligner(nPhones int) *aligner {
	a := &aligner{nPhones: nPhones, prob: make([][]float64, numLetters)}
	nc := a.nChunks()
	// Start from: nothing 0.1, one phone 0.8, two phones 0.1, spread evenly.
	for l := range a.prob {
		a.prob[l] = make([]float64, nc)
		a.prob[l][0] = 0.1
		for ci := 1; ci < nc; ci++ {
			if ci <= nPhones {
				a.prob[l][ci] = 0.8 / float64(nPhones)
			} else {
				a.prob[l][ci] = 0.1 / float64(nPhones*nPhones)
			}
		}
	}
	return a
}

// alignable: each letter stands for at most two phones.
func alignable(p pair) bool { return len(p.phones) <= 2*len(p.letters) }

// expect adds the expected chunk counts of one pair to counts (forward-
// backward) and returns whether the pair had any alignment.
func (a *aligner) expect(p pair, fw, bw []float64, counts [][]float64) bool {
	n, m := len(p.letters), len(p.phones)
	w := m + 1
	for i := range fw[:(n+1)*w] {
		fw[i], bw[i] = 0, 0
	}
	fw[0] = 1
	for i := 0; i < n; i++ {
		pr := a.prob[p.letters[i]]
		for j := 0; j <= m; j++ {
			f := fw[i*w+j]
			if f == 0 {
				continue
			}
			fw[(i+1)*w+j] += f * pr[0]
			if j+1 <= m {
				fw[(i+1)*w+j+1] += f * pr[a.single(p.phones[j])]
			}
			if j+2 <= m {
				fw[(i+1)*w+j+2] += f * pr[a.double(p.phones[j], p.phones[j+1])]
			}
		}
	}
	z := fw[n*w+m]
	if z == 0 {
		return false
	}
	bw[n*w+m] = 1
	for i := n - 1; i >= 0; i-- {
		pr := a.prob[p.letters[i]]
		cnt := counts[p.letters[i]]
		for j := m; j >= 0; j-- {
			f := fw[i*w+j]
			var b float64
			if x := bw[(i+1)*w+j]; x != 0 {
				b += pr[0] * x
				cnt[0] += f * pr[0] * x / z
			}
			if j+1 <= m {
				if x := bw[(i+1)*w+j+1]; x != 0 {
					ci := a.single(p.phones[j])
					b += pr[ci] * x
					cnt[ci] += f * pr[ci] * x / z
				}
			}
			if j+2 <= m {
				if x := bw[(i+1)*w+j+2]; x != 0 {
					ci := a.double(p.phones[j], p.phones[j+1])
					b += pr[ci] * x
					cnt[ci] += f * pr[ci] * x / z
				}
			}
			bw[i*w+j] = b
		}
	}
	return true
}

// train runs EM for iterations rounds over pairs.
func (a *aligner) train(ctx context.Context, pairs []pair, iterations int) error {
	nc := a.nChunks()
	maxCells := 0
	for _, p := range pairs {
		maxCells = max(maxCells, (len(p.letters)+1)*(len(p.phones)+1))
	}
	shardCounts := make([][][]float64, alignShards)
	for s := range shardCounts {
		shardCounts[s] = make([][]float64, numLetters)
		for l := range shardCounts[s] {
			shardCounts[s][l] = make([]float64, nc)
		}
	}
	for it := 0; it < iterations; it++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("g2p: align: %w", err)
		}
		var wg sync.WaitGroup
		for s := 0; s < alignShards; s++ {
			wg.Add(1)
			go func(s int) {
				defer wg.Done()
				counts := shardCounts[s]
				for l := range counts {
					clear(counts[l])
				}
				fw := make([]float64, maxCells)
				bw := make([]float64, maxCells)
				for i := s; i < len(pairs); i += alignShards {
					a.expect(pairs[i], fw, bw, counts)
				}
			}(s)
		}
		wg.Wait()
		for l := 1; l < numLetters; l++ {
			var total float64
			row := a.prob[l]
			clear(row)
			for s := 0; s < alignShards; s++ {
				for ci, c := range shardCounts[s][l] {
					row[ci] += c
				}
			}
			for _, c := range row {
				total += c
			}
			if total == 0 {
				continue
			}
			for ci := range row {
				row[ci] /= total
			}
		}
	}
	return nil
}

// viterbi returns the most probable chunk code of each letter, or false
// when the pair cannot be aligned.
func (a *aligner) viterbi(p pair) ([]uint16, bool) {
	n, m := len(p.letters), len(p.phones)
	w := m + 1
	score := make([]float64, (n+1)*w)
	back := make([]int8, (n+1)*w) // phones consumed by the step into the cell
	for i := range score {
		score[i] = -1
	}
	score[0] = 1
	for i := 0; i < n; i++ {
		pr := a.prob[p.letters[i]]
		for j := 0; j <= m; j++ {
			s := score[i*w+j]
			if s < 0 {
				continue
			}
			try := func(k int, ci int) {
				if v := s * pr[ci]; v > 0 && v > score[(i+1)*w+j+k] {
					score[(i+1)*w+j+k] = v
					back[(i+1)*w+j+k] = int8(k)
				}
			}
			try(0, 0)
			if j+1 <= m {
				try(1, a.single(p.phones[j]))
			}
			if j+2 <= m {
				try(2, a.double(p.phones[j], p.phones[j+1]))
			}
		}
	}
	if score[n*w+m] <= 0 {
		return nil, false
	}
	out := make([]uint16, n)
	j := m
	for i := n; i > 0; i-- {
		k := int(back[i*w+j])
		switch k {
		case 0:
			out[i-1] = 0
		case 1:
			out[i-1] = uint16(p.phones[j-1])
		case 2:
			out[i-1] = uint16(p.phones[j-2]) | uint16(p.phones[j-1])<<8
		}
		j -= k
	}
	return out, true
}
