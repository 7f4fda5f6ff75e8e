// Package wordvec learns word vectors from WordNet's structure: every
// vocabulary word gets a row of weighted contexts (its synsets, the
// synsets up its hypernym chains, synsets linked by similar-to, also-see,
// derivation and attribute pointers, and the lemmatised content words of
// its glosses), the rows are turned into positive pointwise mutual
// information (PPMI, context distribution smoothed), and a randomised
// truncated SVD (power iterations in float64) keeps the top Dim
// directions. Words that share senses, hypernyms or gloss words end up
// close. It also holds the held-out synonym/hypernym check used to pick
// the settings (Evaluate).
//
// Everything is single-threaded float64 arithmetic in a fixed order from
// a seeded generator, so the same database gives the same vectors bit for
// bit on the same CPU architecture.
package wordvec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/omnirank/omnirank/wordnet"
)

// Config chooses the contexts and the factorisation.
type Config struct {
	Dim        int     // vector length
	Oversample int     // extra random directions of the randomised SVD
	PowerIters int     // power iterations of the randomised SVD
	HyperDepth int     // hypernym levels used as contexts (0: none)
	HyperDecay float64 // weight factor per hypernym level, in (0,1]
	Relations  float64 // weight of similar-to/also-see/derivation/attribute contexts (0: none)
	Gloss      float64 // weight of gloss-word contexts (0: none)
	Smoothing  float64 // context distribution smoothing exponent (0.75 usual)
	SigmaPower float64 // vectors are U·Σ^SigmaPower (0.5 usual)
	Seed       uint64
}

// Default is the configuration starter-text@2 uses (chosen by the
// held-out check; docs/MODELS.md has the numbers).
var Default = Config{
	Dim: 128, Oversample: 16, PowerIters: 3,
	HyperDepth: 3, HyperDecay: 0.6, Relations: 0.5, Gloss: 0.3,
	Smoothing: 0.75, SigmaPower: 0.5, Seed: 1,
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Dim < 2 || c.Dim > 1024:
		return fmt.Errorf("wordvec: dim %d outside 2..1024", c.Dim)
	case c.Oversample < 0 || c.PowerIters < 0 || c.HyperDepth < 0:
		return fmt.Errorf("wordvec: negative oversample, power iterations or hypernym depth")
	case c.HyperDepth > 0 && (c.HyperDecay <= 0 || c.HyperDecay > 1):
		return fmt.Errorf("wordvec: hypernym decay %v outside (0,1]", c.HyperDecay)
	case c.Relations < 0 || c.Gloss < 0:
		return fmt.Errorf("wordvec: negative relation or gloss weight")
	case c.Smoothing <= 0 || c.Smoothing > 1 || c.SigmaPower < 0 || c.SigmaPower > 1:
		return fmt.Errorf("wordvec: smoothing %v or sigma power %v outside (0,1] / [0,1]", c.Smoothing, c.SigmaPower)
	}
	return nil
}

// Vectors are unit-length word vectors, row i for Words[i].
type Vectors struct {
	Words []string
	Dim   int
	Data  []float32 // len(Words)·Dim, row-major
	index map[string]int
}

// Vector returns word's vector, or nil.
func (v *Vectors) Vector(word string) []float32 {
	i, ok := v.index[word]
	if !ok {
		return nil
	}
	return v.Data[i*v.Dim : (i+1)*v.Dim]
}

// Cosine of two words' vectors (both must be in the vocabulary).
func (v *Vectors) Cosine(a, b string) (float64, bool) {
	x, y := v.Vector(a), v.Vector(b)
	if x == nil || y == nil {
		return 0, false
	}
	return dot(x, y), true
}

func dot(x, y []float32) float64 {
	var s float64
	for i := range x {
		s += float64(x[i]) * float64(y[i])
	}
	return s
}

// Membership is one (word, synset) pair; Learn can leave some out.
type Membership struct {
	Word   string
	Synset wordnet.SynsetID
}

// ErrEmpty: no vocabulary word has any context.
var ErrEmpty = errors.New("wordvec: no contexts")

// Source is the database with each synset's gloss words worked out once
// (NewSource), shared by Learn, GlossIDF and the check.
type Source struct {
	DB     *wordnet.DB
	glossW [][]string // per synset: GlossWords
}

// NewSource lemmatises every gloss of db.
func NewSource(db *wordnet.DB) *Source {
	src := &Source{DB: db, glossW: make([][]string, len(db.Synsets))}
	for id := range db.Synsets {
		src.glossW[id] = GlossWords(db, wordnet.SynsetID(id))
	}
	return src
}

// Learn computes vectors for vocab (lemmas, '_' in phrases), leaving out
// the memberships in heldOut (nil for none).
func Learn(ctx context.Context, src *Source, vocab []string, cfg Config, heldOut map[Membership]bool) (*Vectors, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rows, ncols := contexts(src, vocab, cfg, heldOut)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := ppmi(rows, ncols, cfg.Smoothing)
	if a.nnz() == 0 {
		return nil, ErrEmpty
	}
	u, sigma, err := a.topSingular(ctx, cfg.Dim, cfg.Oversample, cfg.PowerIters, cfg.Seed)
	if err != nil {
		return nil, err
	}
	v := &Vectors{Words: slices.Clone(vocab), Dim: cfg.Dim, Data: make([]float32, len(vocab)*cfg.Dim), index: map[string]int{}}
	for i, w := range vocab {
		v.index[w] = i
		row := v.Data[i*cfg.Dim : (i+1)*cfg.Dim]
		var ss float64
		for j := range cfg.Dim {
			x := u.At(i, j) * math.Pow(sigma[j], cfg.SigmaPower)
			row[j] = float32(x)
			ss += x * x
		}
		if ss > 0 {
			inv := 1 / math.Sqrt(ss)
			for j := range row {
				row[j] = float32(float64(row[j]) * inv)
			}
		}
	}
	return v, nil
}

// entry is one (column, value) of a sparse row.
type entry struct {
	col int32
	val float64
}

// contexts builds each vocabulary word's weighted context row. Columns
// are synsets (id) and gloss words (len(Synsets) + gloss word number);
// the returned column count covers both, unused ones included.
func contexts(src *Source, vocab []string, cfg Config, heldOut map[Membership]bool) ([][]entry, int) {
	db := src.DB
	nsyn := len(db.Synsets)
	glossCol := map[string]int32{}
	var glossWords [][]int32 // per synset
	if cfg.Gloss > 0 {
		glossWords = make([][]int32, nsyn)
		for id, ws := range src.glossW {
			for _, w := range ws {
				c, ok := glossCol[w]
				if !ok {
					c = int32(nsyn + len(glossCol))
					glossCol[w] = c
				}
				glossWords[id] = append(glossWords[id], c)
			}
		}
	}
	rows := make([][]entry, len(vocab))
	acc := map[int32]float64{}
	for i, w := range vocab {
		clear(acc)
		put := func(c int32, x float64) { acc[c] += x }
		for _, pos := range wordnet.AllPOS {
			senses := db.Senses(w, pos)
			tagged := db.TaggedSenses(w, pos)
			for r, s := range senses {
				if heldOut[Membership{w, s}] {
					continue
				}
				sw := 1 / math.Sqrt(float64(r+1))
				if tagged > 0 && r >= tagged {
					sw /= 2
				}
				put(int32(s), sw)
				syn := &db.Synsets[s]
				if cfg.Gloss > 0 {
					for _, c := range glossWords[s] {
						put(c, cfg.Gloss*sw)
					}
				}
				if cfg.Relations > 0 {
					for _, p := range syn.Pointers {
						switch p.Kind {
						case wordnet.SimilarTo, wordnet.AlsoSee, wordnet.Attribute, wordnet.Pertainym:
						case wordnet.Derivation:
							if p.Source != 0 && syn.Lemmas[p.Source-1] != w {
								continue // another lemma's derivation
							}
						default:
							continue
						}
						put(int32(p.Target), cfg.Relations*sw)
					}
				}
				level := []wordnet.SynsetID{s}
				f := sw
				for range cfg.HyperDepth {
					f *= cfg.HyperDecay
					var next []wordnet.SynsetID
					for _, l := range level {
						for _, h := range append(db.Synsets[l].Related(wordnet.Hypernym), db.Synsets[l].Related(wordnet.InstanceHypernym)...) {
							put(int32(h), f)
							next = append(next, h)
						}
					}
					level = next
				}
			}
		}
		row := make([]entry, 0, len(acc))
		for c, x := range acc {
			row = append(row, entry{c, x})
		}
		slices.SortFunc(row, func(a, b entry) int { return cmp.Compare(a.col, b.col) })
		rows[i] = row
	}
	return rows, nsyn + len(glossCol)
}

// GlossWords returns the lemmatised content words of a synset's
// definition (the gloss before its quoted examples), each once, in order.
func GlossWords(db *wordnet.DB, id wordnet.SynsetID) []string {
	gloss := db.Synsets[id].Gloss
	if i := strings.IndexByte(gloss, '"'); i >= 0 {
		gloss = gloss[:i]
	}
	var out []string
	for _, w := range wordnet.Words(gloss) {
		if wordnet.IsStopWord(w) || len(w) < 3 || glossStop[w] {
			continue
		}
		if b := db.Base(w); b != "" {
			w = b
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// glossStop are frequent gloss words that carry no meaning of their own.
var glossStop = map[string]bool{
	"used": true, "usually": true, "especially": true, "having": true, "made": true, "any": true,
	"one": true, "other": true, "which": true, "something": true, "someone": true, "person": true,
	"make": true, "being": true, "its": true, "such": true, "etc": true, "who": true, "are": true,
	"has": true, "was": true, "into": true, "than": true, "more": true, "very": true, "not": true,
}

// sparse is a CSR matrix.
type sparse struct {
	rows  int
	cols  int
	start []int
	col   []int32
	val   []float64
}

func (a *sparse) nnz() int { return len(a.val) }

// ppmi turns co-occurrence rows into PPMI:
// max(0, log(x·T / (r_w · c_c^α/Σc^α))), columns used by one word only
// dropped (they cannot relate two words).
func ppmi(rows [][]entry, ncols int, alpha float64) *sparse {
	colSum := make([]float64, ncols)
	colRows := make([]int32, ncols)
	for _, row := range rows {
		for _, e := range row {
			colSum[e.col] += e.val
			colRows[e.col]++
		}
	}
	var total, smoothTotal float64
	for c, s := range colSum {
		if colRows[c] < 2 {
			continue
		}
		total += s
		smoothTotal += math.Pow(s, alpha)
	}
	// Compact the columns that survive.
	remap := make([]int32, ncols)
	used := int32(0)
	for c := range ncols {
		remap[c] = -1
		if colRows[c] >= 2 {
			remap[c] = used
			used++
		}
	}
	a := &sparse{rows: len(rows), cols: int(used), start: make([]int, 0, len(rows)+1)}
	for _, row := range rows {
		a.start = append(a.start, len(a.val))
		var rowSum float64
		for _, e := range row {
			if colRows[e.col] >= 2 {
				rowSum += e.val
			}
		}
		for _, e := range row {
			if colRows[e.col] < 2 {
				continue
			}
			pc := math.Pow(colSum[e.col], alpha) / smoothTotal
			pmi := math.Log(e.val / total / (rowSum / total * pc))
			if pmi > 0 {
				a.col = append(a.col, remap[e.col])
				a.val = append(a.val, pmi)
			}
		}
	}
	a.start = append(a.start, len(a.val))
	return a
}

// topSingular returns the top k left singular vectors (rows × k) and
// singular values of a by a randomised range finder with power
// iterations, computed through AᵀQ so only rows×(k+p) and cols×(k+p)
// dense blocks are held.
func (a *sparse) topSingular(ctx context.Context, k, oversample, iters int, seed uint64) (*mat.Dense, []float64, error) {
	l := min(k+oversample, a.rows)
	rng := rand.New(rand.NewPCG(seed, 0x776f7264766563))
	omega := make([]float64, a.cols*l)
	for i := range omega {
		omega[i] = rng.NormFloat64()
	}
	y := a.mul(omega, l) // rows × l
	// Intermediate bases need only span the range (one Cholesky pass);
	// the last must be orthonormal to working precision (two).
	first := 1
	if iters == 0 {
		first = 2
	}
	q := orthonormal(y, a.rows, l, first)
	for i := range iters {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		passes := 1
		if i == iters-1 {
			passes = 2
		}
		q = orthonormal(a.mul(a.mulT(q, l), l), a.rows, l, passes)
	}
	// B = QᵀA; B Bᵀ = (AᵀQ)ᵀ(AᵀQ) = ZᵀZ, whose eigenvectors rotate Q onto
	// the left singular vectors.
	zz := gram(a.mulT(q, l), a.cols, l)
	g := mat.NewSymDense(l, nil)
	for i := range l {
		for j := i; j < l; j++ {
			g.SetSym(i, j, zz[i*l+j])
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(g, true) {
		panic("wordvec: eigendecomposition failed") // only on NaN input
	}
	vals := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	out := mat.NewDense(a.rows, k, nil)
	sigma := make([]float64, k)
	col := make([]float64, a.rows)
	vs := make([]float64, l*l) // vs[src*l+p] = vecs(p, src)
	for p := range l {
		for c := range l {
			vs[c*l+p] = vecs.At(p, c)
		}
	}
	for j := range k {
		src := l - 1 - j
		sigma[j] = math.Sqrt(max(vals[src], 0))
		// u_j = Q·v_src, with a fixed sign: largest component positive.
		sign, best := 1.0, 0.0
		for i := range a.rows {
			var x float64
			for p, qv := range q[i*l : (i+1)*l] {
				x += qv * vs[src*l+p]
			}
			col[i] = x
			if math.Abs(x) > best {
				best, sign = math.Abs(x), math.Copysign(1, x)
			}
		}
		for i, x := range col {
			out.Set(i, j, sign*x)
		}
	}
	return out, sigma, nil
}

// mul returns A·X for X cols × l (row-major).
func (a *sparse) mul(x []float64, l int) []float64 {
	out := make([]float64, a.rows*l)
	for r := range a.rows {
		o := out[r*l : (r+1)*l]
		for k := a.start[r]; k < a.start[r+1]; k++ {
			v, xr := a.val[k], x[int(a.col[k])*l:int(a.col[k]+1)*l]
			for j := range o {
				o[j] += v * xr[j]
			}
		}
	}
	return out
}

// mulT returns Aᵀ·X for X rows × l (row-major).
func (a *sparse) mulT(x []float64, l int) []float64 {
	out := make([]float64, a.cols*l)
	for r := range a.rows {
		xr := x[r*l : (r+1)*l]
		for k := a.start[r]; k < a.start[r+1]; k++ {
			v, o := a.val[k], out[int(a.col[k])*l:int(a.col[k]+1)*l]
			for j := range o {
				o[j] += v * xr[j]
			}
		}
	}
	return out
}

// orthonormal returns an orthonormal basis (n × l, row-major) of the
// columns of y by Cholesky QR, run passes times (2: CholeskyQR2): G = YᵀY = LLᵀ,
// Q = Y·L⁻ᵀ. A tiny ridge keeps G positive definite when y is rank
// deficient. y is overwritten.
func orthonormal(y []float64, n, l, passes int) []float64 {
	for range passes {
		g := gram(y, n, l)
		var tr float64
		for a := range l {
			tr += g[a*l+a]
		}
		sym := mat.NewSymDense(l, nil)
		for a := range l {
			for b := a; b < l; b++ {
				sym.SetSym(a, b, g[a*l+b])
			}
			sym.SetSym(a, a, g[a*l+a]+1e-12*tr/float64(l)+1e-300)
		}
		var ch mat.Cholesky
		if !ch.Factorize(sym) {
			panic("wordvec: Cholesky QR failed") // only on NaN input
		}
		var lt mat.TriDense
		ch.LTo(&lt)
		lf := make([]float64, l*l)
		for a := range l {
			for b := 0; b <= a; b++ {
				lf[a*l+b] = lt.At(a, b)
			}
		}
		for i := range n {
			yi := y[i*l : (i+1)*l]
			for a := range l { // forward substitution: L qᵀ = yᵀ
				x := yi[a]
				for b, v := range lf[a*l : a*l+a] {
					x -= v * yi[b]
				}
				yi[a] = x / lf[a*l+a]
			}
		}
	}
	return y
}

// gram returns the upper triangle of YᵀY (l × l, row-major) for Y n × l.
func gram(y []float64, n, l int) []float64 {
	g := make([]float64, l*l)
	for i := range n {
		yi := y[i*l : (i+1)*l]
		for a, x := range yi {
			if x == 0 {
				continue
			}
			ga := g[a*l : (a+1)*l]
			for b := a; b < l; b++ {
				ga[b] += x * yi[b]
			}
		}
	}
	return g
}
