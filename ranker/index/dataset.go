package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// DatasetConfig describes a reproducible synthetic dataset of unit vectors
// shaped like real embeddings: a random rank-Rank subspace plus isotropic
// noise whose norm is Noise relative to the signal.
type DatasetConfig struct {
	N       int     // base vectors
	Queries int     // query vectors, drawn from the same distribution
	Dim     int     // vector length
	Rank    int     // rank of the signal subspace (default 32)
	Noise   float64 // relative noise norm (default 0.1)
	Seed    uint64  // equal seeds give equal datasets
}

// Dataset holds base and query vectors in row-major slabs.
type Dataset struct {
	Dim     int
	Base    []float32 // N × Dim
	Queries []float32 // Queries × Dim
}

// N is the number of base vectors.
func (d *Dataset) N() int { return len(d.Base) / d.Dim }

// NQ is the number of queries.
func (d *Dataset) NQ() int { return len(d.Queries) / d.Dim }

// Row returns base vector i (not a copy).
func (d *Dataset) Row(i int) []float32 { return d.Base[i*d.Dim : (i+1)*d.Dim : (i+1)*d.Dim] }

// Query returns query vector i (not a copy).
func (d *Dataset) Query(i int) []float32 { return d.Queries[i*d.Dim : (i+1)*d.Dim : (i+1)*d.Dim] }

// GenerateDataset builds the dataset described by cfg, in parallel; the
// result depends only on cfg.
func GenerateDataset(cfg DatasetConfig) (*Dataset, error) {
	if cfg.Rank == 0 {
		cfg.Rank = 32
	}
	if cfg.Noise == 0 {
		cfg.Noise = 0.1
	}
	if cfg.N < 0 || cfg.Queries < 0 || cfg.Dim <= 0 || cfg.Rank <= 0 || cfg.Noise < 0 {
		return nil, fmt.Errorf("%w: dataset %+v", ErrInvalidOption, cfg)
	}
	basis := make([]float32, cfg.Rank*cfg.Dim)
	br := rand.New(rand.NewPCG(cfg.Seed, 0xba515))
	for i := range basis {
		basis[i] = float32(br.NormFloat64())
	}
	d := &Dataset{Dim: cfg.Dim, Base: make([]float32, cfg.N*cfg.Dim), Queries: make([]float32, cfg.Queries*cfg.Dim)}
	fill := func(dst []float32, stream uint64) {
		rows := len(dst) / cfg.Dim
		workers := runtime.GOMAXPROCS(0)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				z := make([]float64, cfg.Rank)
				v := make([]float64, cfg.Dim)
				g := make([]float64, cfg.Dim)
				for i := w; i < rows; i += workers {
					r := rand.New(rand.NewPCG(cfg.Seed^stream, uint64(i)))
					for j := range z {
						z[j] = r.NormFloat64()
					}
					clear(v)
					for j, zj := range z {
						row := basis[j*cfg.Dim : (j+1)*cfg.Dim]
						for k, b := range row {
							v[k] += zj * float64(b)
						}
					}
					for k := range g {
						g[k] = r.NormFloat64()
					}
					sn, gn := norm(v), norm(g)
					for k := range v {
						v[k] = v[k]/sn + cfg.Noise*g[k]/gn
					}
					vn := norm(v)
					out := dst[i*cfg.Dim : (i+1)*cfg.Dim]
					for k := range out {
						out[k] = float32(v[k] / vn)
					}
				}
			})
		}
		wg.Wait()
	}
	fill(d.Base, 0x1)
	fill(d.Queries, 0x2)
	return d, nil
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s == 0 {
		return 1
	}
	return math.Sqrt(s)
}
