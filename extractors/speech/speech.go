package speech

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/omnirank/omnirank/internal/option"
)

// Default files of Debian's pocketsphinx-en-us.
const (
	DefaultAcousticModel = "/usr/share/pocketsphinx/model/en-us/en-us"
	DefaultDictionary    = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
	DefaultGeneralLM     = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
)

// Defaults of a Pool.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxAudio = 120 * time.Second
	// SampleRate is the rate the acoustic model expects.
	SampleRate = 16000
	// chunk is how many samples go to the decoder between checks of the
	// deadline: 0.25 s.
	chunk = SampleRate / 4
)

// Sentinel errors; every error returned wraps one of them (or
// option.ErrInvalid) with context.
var (
	// ErrUnavailable: built without PocketSphinx (-tags nopocketsphinx or
	// CGO_ENABLED=0), or its model files are missing.
	ErrUnavailable = errors.New("speech recognition unavailable")
	// ErrTimeout: the call's timeout (WithTimeout) passed first.
	ErrTimeout = errors.New("speech recognition timed out")
	// ErrTooLong: the audio lasts longer than WithMaxAudio.
	ErrTooLong = errors.New("audio too long for speech recognition")
	// ErrBadAudio: the bytes are not decodable audio (wraps
	// preprocess.ErrBadInput as well).
	ErrBadAudio = errors.New("bad audio")
	// ErrClosed: the pool was closed.
	ErrClosed = errors.New("speech pool closed")
)

// ErrInvalidOption marks an option with an invalid value (option.ErrInvalid).
var ErrInvalidOption = option.ErrInvalid

// Word is one recognised word.
type Word struct {
	Text       string
	Start, End time.Duration
	// Confidence is the word's posterior probability in the lattice, 0..1.
	Confidence float64
}

// Transcript is what a Pool heard.
type Transcript struct {
	// Text is the normalised words joined by one space; "" for silence.
	Text string
	// Confidence, 0..1, is the posterior probability of the whole
	// hypothesis in the word lattice (ps_get_prob, a log posterior turned
	// into a probability); 0 when nothing was heard.
	Confidence float64
	Words      []Word
	// Audio is the length of the audio transcribed.
	Audio time.Duration
	// Model names the acoustic model, e.g. "pocketsphinx-en-us".
	Model string
	// LanguageModel is the version of the language model used; "" is the
	// general en-us model.
	LanguageModel string
}

type config struct {
	hmm, dict, generalLM string
	lm                   *LanguageModel
	size                 int
	timeout, maxAudio    time.Duration
	logger               *slog.Logger
}

func defaultConfig() config {
	return config{
		hmm: DefaultAcousticModel, dict: DefaultDictionary, generalLM: DefaultGeneralLM,
		size: runtime.GOMAXPROCS(0), timeout: DefaultTimeout, maxAudio: DefaultMaxAudio,
		logger: slog.Default(),
	}
}

// Option configures a Pool.
type Option func(*config) error

// WithAcousticModel sets the acoustic model folder (default
// DefaultAcousticModel).
func WithAcousticModel(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return option.Errorf("speech: empty acoustic model folder")
		}
		c.hmm = dir
		return nil
	}
}

// WithDictionary sets the pronunciation dictionary used with the general
// language model (default DefaultDictionary). A catalogue LanguageModel
// brings its own.
func WithDictionary(path string) Option {
	return func(c *config) error {
		if path == "" {
			return option.Errorf("speech: empty dictionary path")
		}
		c.dict = path
		return nil
	}
}

// WithLanguageModel starts the pool on lm; nil is the general en-us model.
func WithLanguageModel(lm *LanguageModel) Option {
	return func(c *config) error {
		c.lm = lm
		return nil
	}
}

// WithSize sets how many decoders (concurrent recognitions) the pool holds;
// default GOMAXPROCS.
func WithSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1024 {
			return option.Errorf("speech: pool size %d outside 1..1024", n)
		}
		c.size = n
		return nil
	}
}

// WithTimeout bounds each call, waiting for a decoder included (default
// 30 s).
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return option.Errorf("speech: timeout %v must be positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithMaxAudio rejects longer audio with ErrTooLong, from the file's header
// where it declares its length (default 120 s).
func WithMaxAudio(d time.Duration) Option {
	return func(c *config) error {
		if d < 100*time.Millisecond || d > time.Hour {
			return option.Errorf("speech: max audio %v outside 100ms..1h", d)
		}
		c.maxAudio = d
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return option.Errorf("speech: nil logger")
		}
		c.logger = l
		return nil
	}
}

// modelName names the acoustic model for Transcript.Model.
func (c *config) modelName() string {
	return "pocketsphinx-" + filepath.Base(filepath.Clean(c.hmm))
}

// checkFiles reports the first model file that is missing.
func (c *config) checkFiles() error {
	need := []string{
		filepath.Join(c.hmm, "mdef"), filepath.Join(c.hmm, "means"), filepath.Join(c.hmm, "variances"),
		filepath.Join(c.hmm, "transition_matrices"), filepath.Join(c.hmm, "feat.params"),
		filepath.Join(c.hmm, "noisedict"),
	}
	if c.lm == nil {
		need = append(need, c.dict, c.generalLM)
	}
	for _, p := range need {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%w: %w (Debian: apt-get install pocketsphinx-en-us)", ErrUnavailable, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a file", ErrUnavailable, p)
		}
	}
	// Mixture weights come as sendump (Debian's model) or mixture_weights.
	_, e1 := os.Stat(filepath.Join(c.hmm, "sendump"))
	_, e2 := os.Stat(filepath.Join(c.hmm, "mixture_weights"))
	if e1 != nil && e2 != nil {
		return fmt.Errorf("%w: %s has neither sendump nor mixture_weights", ErrUnavailable, c.hmm)
	}
	return nil
}

// Available returns nil when the package was built with PocketSphinx and
// the default model files exist, else an error wrapping ErrUnavailable that
// says why.
func Available() error {
	if err := linked(); err != nil {
		return err
	}
	c := defaultConfig()
	return c.checkFiles()
}
