// Package spaces defines embedding spaces — which model fills each modality
// block of a joint vector, and with what weight — and the block arithmetic
// shared by fusion (building product vectors) and the ranker (building query
// vectors and explaining scores). It also keeps space definitions and the
// "active" alias in the spaces KV bucket.
package spaces

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// Block is one modality's slice of the joint vector.
type Block struct {
	Modality string  `json:"modality"`
	Model    string  `json:"model"` // name@version
	Dim      int     `json:"dim"`
	Weight   float32 `json:"weight"`
}

// Space is a versioned definition of a joint embedding.
type Space struct {
	Name   string  `json:"name"`
	Blocks []Block `json:"blocks"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate checks the definition.
func (s Space) Validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("space name %q: want lower-case letters, digits, '-' or '_' (max 64)", s.Name)
	}
	if len(s.Blocks) == 0 {
		return fmt.Errorf("space %s: no blocks", s.Name)
	}
	seen := map[string]bool{}
	for _, b := range s.Blocks {
		if seen[b.Modality] {
			return fmt.Errorf("space %s: modality %s appears twice", s.Name, b.Modality)
		}
		seen[b.Modality] = true
		if b.Dim <= 0 || b.Weight <= 0 || math.IsNaN(float64(b.Weight)) || math.IsInf(float64(b.Weight), 0) {
			return fmt.Errorf("space %s: block %s needs dim > 0 and a finite weight > 0", s.Name, b.Modality)
		}
		if b.Model == "" {
			return fmt.Errorf("space %s: block %s has no model", s.Name, b.Modality)
		}
	}
	return nil
}

// Dim is the length of the joint vector.
func (s Space) Dim() int {
	d := 0
	for _, b := range s.Blocks {
		d += b.Dim
	}
	return d
}

// Block returns the block of a modality and its offset in the joint vector.
func (s Space) Block(modality string) (Block, int, bool) {
	off := 0
	for _, b := range s.Blocks {
		if b.Modality == modality {
			return b, off, true
		}
		off += b.Dim
	}
	return Block{}, 0, false
}

// Models maps modality to model for every block.
func (s Space) Models() map[string]string {
	m := make(map[string]string, len(s.Blocks))
	for _, b := range s.Blocks {
		m[b.Modality] = b.Model
	}
	return m
}

// ErrNoInputs is returned by Join when no block has an input.
var ErrNoInputs = errors.New("no modality has an input")

// Join builds a joint vector from per-modality vectors: each present block
// is L2-normalised and scaled by sqrt(weight), missing blocks are zero, and
// the whole vector is L2-normalised. The dot product of two joint vectors is
// then a weighted sum of per-modality cosines (divided by the two norms), and
// BlockDots splits it back into those parts. It returns the block layout.
func (s Space) Join(parts map[string][]float32) ([]float32, []topology.Block, error) {
	out := make([]float32, s.Dim())
	layout := make([]topology.Block, 0, len(s.Blocks))
	off, present := 0, 0
	for _, b := range s.Blocks {
		blk := topology.Block{Modality: b.Modality, Model: b.Model, Offset: off, Dim: b.Dim, Weight: b.Weight}
		if v, ok := parts[b.Modality]; ok {
			if len(v) != b.Dim {
				return nil, nil, fmt.Errorf("space %s: %s vector has %d dims, block wants %d", s.Name, b.Modality, len(v), b.Dim)
			}
			n := norm(v)
			if n == 0 || math.IsNaN(n) || math.IsInf(n, 0) {
				return nil, nil, fmt.Errorf("space %s: %s vector is zero or not finite", s.Name, b.Modality)
			}
			scale := float32(math.Sqrt(float64(b.Weight)) / n)
			for i, x := range v {
				out[off+i] = x * scale
			}
			blk.Present = true
			present++
		}
		layout = append(layout, blk)
		off += b.Dim
	}
	if present == 0 {
		return nil, nil, ErrNoInputs
	}
	Normalize(out)
	return out, layout, nil
}

// BlockDots returns, for each block, the dot product of a and b restricted
// to it: the block's contribution to their cosine. They sum to dot(a, b).
func (s Space) BlockDots(a, b []float32) map[string]float32 {
	out := make(map[string]float32, len(s.Blocks))
	off := 0
	for _, blk := range s.Blocks {
		var d float32
		for i := off; i < off+blk.Dim && i < len(a) && i < len(b); i++ {
			d += a[i] * b[i]
		}
		out[blk.Modality] = d
		off += blk.Dim
	}
	return out
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// Normalize scales v to unit length in place (a zero vector stays zero).
func Normalize(v []float32) {
	n := norm(v)
	if n == 0 {
		return
	}
	inv := float32(1 / n)
	for i := range v {
		v[i] *= inv
	}
}

// ActiveAlias is the key of the alias naming the space that serves traffic.
const ActiveAlias = "alias.active"

func spaceKey(name string) string { return "space." + name }

// Store keeps space definitions and aliases in the spaces KV bucket.
type Store struct{ kv jetstream.KeyValue }

// NewStore opens the spaces bucket (declared by topology.Ensure).
func NewStore(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, topology.BucketSpaces)
	if err != nil {
		return nil, fmt.Errorf("open spaces bucket: %w", err)
	}
	return &Store{kv: kv}, nil
}

// ErrNotFound is returned for an unknown space or an unset alias.
var ErrNotFound = errors.New("space not found")

// Put validates and stores a space definition. A space is immutable once
// written: putting a different definition under an existing name fails.
func (st *Store) Put(ctx context.Context, s Space) error {
	if err := s.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode space %s: %w", s.Name, err)
	}
	if _, err := st.kv.Create(ctx, spaceKey(s.Name), data); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("store space %s: %w", s.Name, err)
		}
		old, gerr := st.Get(ctx, s.Name)
		if gerr != nil {
			return gerr
		}
		oldData, _ := json.Marshal(old)
		if string(oldData) != string(data) {
			return fmt.Errorf("space %s already exists with another definition; spaces are immutable, create a new name", s.Name)
		}
	}
	return nil
}

// Get returns a space definition.
func (st *Store) Get(ctx context.Context, name string) (Space, error) {
	e, err := st.kv.Get(ctx, spaceKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Space{}, fmt.Errorf("space %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Space{}, fmt.Errorf("get space %s: %w", name, err)
	}
	var s Space
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		return Space{}, fmt.Errorf("decode space %s: %w", name, err)
	}
	return s, nil
}

// List returns every stored space.
func (st *Store) List(ctx context.Context) ([]Space, error) {
	keys, err := st.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list spaces: %w", err)
	}
	var out []Space
	for k := range keys.Keys() {
		if len(k) > 6 && k[:6] == "space." {
			s, err := st.Get(ctx, k[6:])
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// Active returns the name of the space the active alias points to.
func (st *Store) Active(ctx context.Context) (string, uint64, error) {
	e, err := st.kv.Get(ctx, ActiveAlias)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", 0, fmt.Errorf("active alias: %w", ErrNotFound)
	}
	if err != nil {
		return "", 0, fmt.Errorf("get active alias: %w", err)
	}
	return string(e.Value()), e.Revision(), nil
}

// SetActive points the active alias at a stored space. With expectRevision
// > 0 it is a compare-and-swap against the alias revision Active returned;
// 0 creates the alias only if it is unset.
func (st *Store) SetActive(ctx context.Context, name string, expectRevision uint64) error {
	if _, err := st.Get(ctx, name); err != nil {
		return err
	}
	var err error
	if expectRevision == 0 {
		_, err = st.kv.Create(ctx, ActiveAlias, []byte(name))
	} else {
		_, err = st.kv.Update(ctx, ActiveAlias, []byte(name), expectRevision)
	}
	if err != nil {
		return fmt.Errorf("set active alias to %s: %w", name, err)
	}
	return nil
}

// Delete removes a space definition. It refuses the space the active alias
// names.
func (st *Store) Delete(ctx context.Context, name string) error {
	if _, err := st.Get(ctx, name); err != nil {
		return err
	}
	if active, _, err := st.Active(ctx); err == nil && active == name {
		return fmt.Errorf("space %s is active; promote another space first", name)
	}
	if err := st.kv.Purge(ctx, spaceKey(name)); err != nil {
		return fmt.Errorf("delete space %s: %w", name, err)
	}
	return nil
}

// BlockSpec is one block of a space as an operator writes it:
// MODALITY=MODEL@VERSION[:WEIGHT].
type BlockSpec struct {
	Modality string
	Model    string
	Weight   float32
}

// ParseBlockSpec parses MODALITY=MODEL@VERSION[:WEIGHT] (weight 1 when
// omitted).
func ParseBlockSpec(s string) (BlockSpec, error) {
	mod, rest, ok := strings.Cut(s, "=")
	if !ok || mod == "" || rest == "" {
		return BlockSpec{}, fmt.Errorf("block %q: want MODALITY=MODEL@VERSION[:WEIGHT]", s)
	}
	b := BlockSpec{Modality: mod, Model: rest, Weight: 1}
	if model, w, ok := strings.Cut(rest, ":"); ok {
		f, err := strconv.ParseFloat(w, 32)
		if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			return BlockSpec{}, fmt.Errorf("block %q: weight %q is not a number > 0", s, w)
		}
		b.Model, b.Weight = model, float32(f)
	}
	if name, ver, ok := strings.Cut(b.Model, "@"); !ok || name == "" || ver == "" {
		return BlockSpec{}, fmt.Errorf("block %q: model %q is not NAME@VERSION", s, b.Model)
	}
	return b, nil
}

// String writes the spec back as MODALITY=MODEL@VERSION:WEIGHT.
func (b BlockSpec) String() string {
	return fmt.Sprintf("%s=%s:%g", b.Modality, b.Model, b.Weight)
}
