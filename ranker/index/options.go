package index

import "fmt"

// Quantization selects how HNSW vectors are represented during graph
// traversal.
type Quantization int

const (
	// QuantNone traverses the graph with float32 dot products.
	QuantNone Quantization = iota
	// QuantInt8 traverses the graph with int8 codes (one float32 scale per
	// vector, symmetric, zero-centred) and re-scores the final candidates
	// with float32 vectors. It adds dim+4 bytes per vector.
	QuantInt8
	// QuantInt8Only keeps only the int8 codes and per-vector scales in
	// memory, no float32 originals: dim+4 bytes per vector instead of
	// 4·dim. The graph is built and traversed with int8 codes; the final
	// candidates are re-scored with the float32 query against the
	// dequantised vectors (code × scale). Scores and Get are therefore
	// approximate: each component of a stored vector is off by at most
	// scale/2 = max|v_i|/254, which for unit vectors of a few hundred
	// dimensions moves a dot product by about 1e-3 or less.
	QuantInt8Only
)

// String names the quantisation as ParseQuantization accepts it.
func (q Quantization) String() string {
	switch q {
	case QuantNone:
		return "none"
	case QuantInt8:
		return "int8"
	case QuantInt8Only:
		return "int8-only"
	default:
		return fmt.Sprintf("Quantization(%d)", int(q))
	}
}

// ParseQuantization parses "none", "int8" or "int8-only".
func ParseQuantization(s string) (Quantization, error) {
	switch s {
	case "none", "":
		return QuantNone, nil
	case "int8":
		return QuantInt8, nil
	case "int8-only":
		return QuantInt8Only, nil
	}
	return 0, fmt.Errorf("%w: quantization %q (want none, int8 or int8-only)", ErrInvalidOption, s)
}

// valid reports whether q is one of the defined quantisations.
func (q Quantization) valid() bool { return q >= QuantNone && q <= QuantInt8Only }

// hasFloats reports whether vectors are kept as float32.
func (q Quantization) hasFloats() bool { return q != QuantInt8Only }

// hasCodes reports whether vectors are kept as int8 codes.
func (q Quantization) hasCodes() bool { return q != QuantNone }

// Limits on HNSW parameters.
const (
	minM              = 2
	maxM              = 128
	maxEfConstruction = 10000
	maxCapacity       = 1 << 31
)

type config struct {
	m              int
	efConstruction int
	quant          Quantization
	seed           uint64
	capacity       int
	compactRatio   float64
}

func defaultConfig() config {
	return config{m: 16, efConstruction: 200, quant: QuantNone, seed: 1, compactRatio: 0.25}
}

// Option configures NewHNSW. Options validate their argument and make
// NewHNSW fail with an error wrapping ErrInvalidOption.
type Option func(*config) error

// WithM sets the number of links per node on upper layers (layer 0 gets 2M).
// Default 16; range [2, 128].
func WithM(m int) Option {
	return func(c *config) error {
		if m < minM || m > maxM {
			return fmt.Errorf("%w: M=%d outside [%d, %d]", ErrInvalidOption, m, minM, maxM)
		}
		c.m = m
		return nil
	}
}

// WithEfConstruction sets the candidate list size used while inserting.
// Default 200; range [1, 10000].
func WithEfConstruction(ef int) Option {
	return func(c *config) error {
		if ef < 1 || ef > maxEfConstruction {
			return fmt.Errorf("%w: EfConstruction=%d outside [1, %d]", ErrInvalidOption, ef, maxEfConstruction)
		}
		c.efConstruction = ef
		return nil
	}
}

// WithQuantization selects QuantNone (default), QuantInt8 or
// QuantInt8Only.
func WithQuantization(q Quantization) Option {
	return func(c *config) error {
		if !q.valid() {
			return fmt.Errorf("%w: quantization %d", ErrInvalidOption, int(q))
		}
		c.quant = q
		return nil
	}
}

// WithSeed seeds the level generator; equal seeds and equal single-goroutine
// insertion orders give identical graphs. Default 1.
func WithSeed(seed uint64) Option {
	return func(c *config) error {
		c.seed = seed
		return nil
	}
}

// WithCapacity preallocates room for n vectors (the index still grows past
// it). Default 0.
func WithCapacity(n int) Option {
	return func(c *config) error {
		if n < 0 || n > maxCapacity {
			return fmt.Errorf("%w: capacity %d outside [0, %d]", ErrInvalidOption, n, maxCapacity)
		}
		c.capacity = n
		return nil
	}
}

// WithAutoCompact sets the fraction of tombstones (relative to live
// vectors) above which a Delete or replacing Upsert compacts the graph in
// the calling goroutine. 0 disables automatic compaction. Default 0.25.
func WithAutoCompact(ratio float64) Option {
	return func(c *config) error {
		if !(ratio >= 0 && ratio <= 10) {
			return fmt.Errorf("%w: auto-compact ratio %v outside [0, 10]", ErrInvalidOption, ratio)
		}
		c.compactRatio = ratio
		return nil
	}
}
