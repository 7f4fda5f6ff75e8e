// Package experiment owns A/B experiments on the ranker (issue 12, item 4):
// the experiment file (two arms, each a ranker configuration, and their
// traffic shares), the stable assignment of users to arms by hash, and the
// report that reads the IMPRESSIONS and FEEDBACK streams and compares the
// arms' click-through and conversion rates with 95% confidence intervals
// (Wilson for each arm, the two-proportion z interval for the difference).
//
// It imports only topology: the ranker applies an arm's configuration
// (package ranker) and the server resolves an arm's scorer (package learn).
package experiment

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/omnirank/omnirank/internal/option"
)

// ErrInvalid marks an experiment file that does not validate.
var ErrInvalid = option.ErrInvalid

// Scorer names of an arm: ScorerHand is the hand weights
// (ranker.DefaultLinearScorer); ScorerServed (empty) is whatever the ranker
// serves (the newest published model, else the hand weights). Any other
// value is a revision of the published ranker model (omnirank train
// ranker --publish prints it).
const (
	ScorerHand   = "hand"
	ScorerServed = ""
)

// Arm is one ranker configuration. Unset fields leave the ranker's
// defaults; a request that sets space, mmr_lambda or lexical_weight itself
// keeps its own value.
type Arm struct {
	Name string `json:"name" yaml:"name"`
	// Share is the arm's part of the traffic; the shares sum to 1.
	Share float64 `json:"share" yaml:"share"`
	// Scorer is ScorerHand, ScorerServed or a model revision.
	Scorer        string   `json:"scorer,omitempty" yaml:"scorer,omitempty"`
	Space         string   `json:"space,omitempty" yaml:"space,omitempty"`
	MMRLambda     *float32 `json:"mmr_lambda,omitempty" yaml:"mmr_lambda,omitempty"`
	LexicalWeight *float32 `json:"lexical_weight,omitempty" yaml:"lexical_weight,omitempty"`
}

// ModelRevision is the model revision the arm's Scorer names, 0 for
// ScorerHand and ScorerServed.
func (a Arm) ModelRevision() (uint64, error) {
	if a.Scorer == ScorerHand || a.Scorer == ScorerServed {
		return 0, nil
	}
	rev, err := strconv.ParseUint(a.Scorer, 10, 64)
	if err != nil || rev == 0 {
		return 0, fmt.Errorf("%w: arm %q: scorer %q: want %q, empty (the served model) or a model revision ≥ 1", ErrInvalid, a.Name, a.Scorer, ScorerHand)
	}
	return rev, nil
}

// Config is an experiment: a name (part of the assignment hash, so a new
// experiment reshuffles users) and exactly two arms.
type Config struct {
	Name string `json:"name" yaml:"name"`
	Arms []Arm  `json:"arms" yaml:"arms"`
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: experiment has no name", ErrInvalid)
	}
	if len(c.Arms) != 2 {
		return fmt.Errorf("%w: experiment %q has %d arms, want 2", ErrInvalid, c.Name, len(c.Arms))
	}
	sum := 0.0
	for i, a := range c.Arms {
		switch {
		case a.Name == "":
			return fmt.Errorf("%w: arm %d has no name", ErrInvalid, i)
		case i > 0 && a.Name == c.Arms[0].Name:
			return fmt.Errorf("%w: two arms named %q", ErrInvalid, a.Name)
		case !(a.Share > 0 && a.Share < 1):
			return fmt.Errorf("%w: arm %q: share %v, want in (0, 1)", ErrInvalid, a.Name, a.Share)
		case a.MMRLambda != nil && !(*a.MMRLambda >= 0 && *a.MMRLambda <= 1):
			return fmt.Errorf("%w: arm %q: mmr_lambda %v, want 0..1", ErrInvalid, a.Name, *a.MMRLambda)
		case a.LexicalWeight != nil && !(*a.LexicalWeight >= 0 && *a.LexicalWeight <= 1):
			return fmt.Errorf("%w: arm %q: lexical_weight %v, want 0..1", ErrInvalid, a.Name, *a.LexicalWeight)
		}
		if _, err := a.ModelRevision(); err != nil {
			return err
		}
		sum += a.Share
	}
	if math.Abs(sum-1) > 1e-9 {
		return fmt.Errorf("%w: arm shares sum to %v, want 1", ErrInvalid, sum)
	}
	return nil
}

// Parse decodes an experiment from YAML or JSON (JSON is YAML), refusing
// unknown fields, and validates it.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: experiment: %v", ErrInvalid, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ReadFile reads and parses an experiment file.
func ReadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("experiment: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Assign returns the index of the arm unit falls in: the first 64 bits of
// SHA-256(name, unit) as a fraction of 2^64 against the cumulative shares.
// The same experiment and unit always give the same arm, on every replica.
// The unit is the user id, or the request id of an anonymous request.
func (c Config) Assign(unit string) int {
	h := sha256.New()
	h.Write([]byte(c.Name))
	h.Write([]byte{0})
	h.Write([]byte(unit))
	u := float64(binary.BigEndian.Uint64(h.Sum(nil))>>11) / (1 << 53)
	acc := 0.0
	for i, a := range c.Arms {
		acc += a.Share
		if u < acc {
			return i
		}
	}
	return len(c.Arms) - 1
}
