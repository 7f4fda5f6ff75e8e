package g2p

import (
	"errors"

	"github.com/omnirank/omnirank/internal/option"
)

// Sentinel errors. Errors returned by this package wrap them.
var (
	// ErrInvalidOption marks an option out of range (option.ErrInvalid).
	ErrInvalidOption = option.ErrInvalid
	// ErrUnpronounceable: the word holds a character other than a letter
	// or an apostrophe, or no letter at all.
	ErrUnpronounceable = errors.New("g2p: unpronounceable word")
	// ErrFormat: a dictionary or model file is malformed.
	ErrFormat = errors.New("g2p: bad format")
)

// MaxWindow is the most letters of context on either side.
const MaxWindow = 4

type config struct {
	left, right int
	holdout     float64
	seed        uint64
	iterations  int
	minCount    int
	history     int
}

func defaultConfig() config {
	return config{left: 3, right: 4, iterations: 8, minCount: 1, history: 2}
}

// Option configures Train.
type Option func(*config) error

// WithWindow sets how many letters of context on each side of a letter the
// model may look at (default 3 and 4; each 0..MaxWindow;
// with WithHistory at most 8 letters in all). The model backs
// off from the widest window seen in training to narrower ones.
func WithWindow(left, right int) Option {
	return func(c *config) error {
		if left < 0 || right < 0 || left > MaxWindow || right > MaxWindow {
			return option.Errorf("g2p window %d,%d: each side must be 0..%d", left, right, MaxWindow)
		}
		c.left, c.right = left, right
		return nil
	}
}

// WithHoldout leaves out about fraction of the dictionary's words (chosen by
// a hash of the word and seed, so the split does not depend on the file's
// order or the other options) and measures the model on them
// (Model.HeldOut). fraction is in [0, 0.5]; 0 trains on every word.
func WithHoldout(fraction float64, seed uint64) Option {
	return func(c *config) error {
		if !(fraction >= 0 && fraction <= 0.5) {
			return option.Errorf("g2p holdout fraction %v: must be in [0, 0.5]", fraction)
		}
		c.holdout, c.seed = fraction, seed
		return nil
	}
}

// WithIterations sets the EM iterations of the letter-phone alignment
// (default 8; 1..100).
func WithIterations(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 100 {
			return option.Errorf("g2p iterations %d: must be 1..100", n)
		}
		c.iterations = n
		return nil
	}
}

// WithMinCount makes a context count only once it was seen at least n
// times in training (default 1; 1..1000).
func WithMinCount(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1000 {
			return option.Errorf("g2p min count %d: must be 1..1000", n)
		}
		c.minCount = n
		return nil
	}
}

// validate checks the options together.
func (c *config) validate() error {
	if c.history >= 0 {
		if c.history > c.left+c.right {
			return option.Errorf("g2p history level %d: the window %d,%d has levels 0..%d", c.history, c.left, c.right, c.left+c.right)
		}
		if w := c.left + 1 + c.right; w > maxHistWidth {
			return option.Errorf("g2p window %d,%d: at most %d letters with history", c.left, c.right, maxHistWidth)
		}
	}
	return nil
}

// maxHistWidth: a context key of 8 letters and a history byte fills the 48
// bits a training record leaves beside its chunk.
const maxHistWidth = 8

// ValidateOptions applies opts to a scratch configuration and returns the
// first error.
func ValidateOptions(opts ...Option) error {
	cfg := defaultConfig()
	return applyOptions(&cfg, opts)
}

// DefaultDictPath is where Debian's pocketsphinx-en-us installs the
// recogniser's pronunciation dictionary.
const DefaultDictPath = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"

// WithHistory makes the previous letter's phones part of every context
// from level n of the window chain on (n = 0: from the single letter on;
// default 2: from the letter with one on each side; -1: never). Words are
// then pronounced left to right, each letter seeing the phones chosen for
// the one before.
func WithHistory(n int) Option {
	return func(c *config) error {
		if n < -1 || n > 2*MaxWindow {
			return option.Errorf("g2p history level %d: must be -1..%d", n, 2*MaxWindow)
		}
		c.history = n
		return nil
	}
}
