package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/omnirank/omnirank/internal/option"
)

// Hit is one search result.
type Hit struct {
	ID string
	// Score is the dot product of the query and the stored vector; for unit
	// vectors it is their cosine similarity. Higher is better.
	Score float32
}

// SearchOptions tunes one search.
type SearchOptions struct {
	// K is the number of hits wanted (> 0).
	K int
	// Ef is the size of the HNSW dynamic candidate list; 0 means max(K, 64).
	// Flat ignores it.
	Ef int
	// Filter, when not nil, admits only ids for which it returns true. It is
	// called from the searching goroutine and must be safe for concurrent use
	// if the caller searches concurrently.
	Filter func(id string) bool
	// Selectivity is the caller's estimate of the fraction of ids Filter
	// accepts, in (0, 1]; 0 means unknown and the index estimates it by
	// sampling.
	Selectivity float64
}

// Index is a vector index over unit vectors keyed by string ids. All methods
// are safe for concurrent use.
type Index interface {
	// Dim is the length of every stored vector.
	Dim() int
	// Len is the number of live (not deleted) vectors.
	Len() int
	// Upsert inserts vec under id, replacing any vector already stored under
	// it. vec must be L2-normalised by the caller; a wrong length gives
	// ErrDimension and NaN or Inf gives ErrInvalidVector.
	Upsert(id string, vec []float32) error
	// Delete removes id and reports whether it was present.
	Delete(id string) bool
	// Get returns a copy of the vector stored under id.
	Get(id string) ([]float32, bool)
	// Search returns up to opts.K hits sorted by Score descending.
	Search(ctx context.Context, q []float32, opts SearchOptions) ([]Hit, error)
	// Save writes a versioned, checksummed snapshot that Load restores.
	Save(w io.Writer) error
}

// Sentinel errors. Errors returned by this package wrap them.
var (
	// ErrDimension marks a vector whose length differs from the index's Dim.
	ErrDimension = errors.New("index: wrong vector dimension")
	// ErrInvalidVector marks a vector holding NaN or Inf, or an empty id.
	ErrInvalidVector = errors.New("index: invalid vector")
	// ErrCorrupt marks a snapshot that is truncated, fails its checksum or
	// is otherwise not something Save wrote.
	ErrCorrupt = errors.New("index: corrupt snapshot")
	// ErrInvalidOption marks a constructor option or search option out of
	// range.
	// It is option.ErrInvalid, the error of every component's options.
	ErrInvalidOption = option.ErrInvalid
)

// Compile-time interface checks.
var (
	_ Index = (*HNSW)(nil)
	_ Index = (*Flat)(nil)
)

// checkVector validates a vector against dim.
func checkVector(dim int, vec []float32) error {
	if dim <= 0 {
		return fmt.Errorf("%w: index dimension %d is not positive", ErrDimension, dim)
	}
	if len(vec) != dim {
		return fmt.Errorf("%w: got %d, want %d", ErrDimension, len(vec), dim)
	}
	for i, x := range vec {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: component %d is %v", ErrInvalidVector, i, x)
		}
	}
	return nil
}

// checkUpsert validates an id and vector.
func checkUpsert(dim int, id string, vec []float32) error {
	if id == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidVector)
	}
	return checkVector(dim, vec)
}

// checkSearch validates a query and options, returning the effective ef.
func checkSearch(dim int, q []float32, opts SearchOptions) (int, error) {
	if err := checkVector(dim, q); err != nil {
		return 0, fmt.Errorf("query: %w", err)
	}
	if opts.K <= 0 {
		return 0, fmt.Errorf("%w: K must be > 0, got %d", ErrInvalidOption, opts.K)
	}
	if opts.Ef < 0 {
		return 0, fmt.Errorf("%w: Ef must be >= 0, got %d", ErrInvalidOption, opts.Ef)
	}
	if opts.Selectivity < 0 || opts.Selectivity > 1 || math.IsNaN(opts.Selectivity) {
		return 0, fmt.Errorf("%w: Selectivity must be in [0, 1], got %v", ErrInvalidOption, opts.Selectivity)
	}
	ef := opts.Ef
	if ef == 0 {
		ef = max(opts.K, 64)
	}
	return max(ef, opts.K), nil
}
