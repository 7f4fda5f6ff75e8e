package ranker

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/internal/option"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/ranker/lexical"
	"github.com/omnirank/omnirank/topology"
)

// Sentinel errors. Errors returned by this package wrap them.
var (
	// ErrInvalidOption marks a constructor option out of range.
	// It is option.ErrInvalid, the error of every component's options.
	ErrInvalidOption = option.ErrInvalid
	// ErrClosed is returned by Start after Close, or by a second Start.
	ErrClosed = errors.New("ranker: closed or already started")
	// ErrUnknownSpace marks a space the ranker does not follow.
	ErrUnknownSpace = errors.New("ranker: unknown space")
)

// IndexFactory makes an empty index for a space of the given dimension.
type IndexFactory func(dim int) (index.Index, error)

// QueryWeights mix the inputs of a request into one query vector.
type QueryWeights struct {
	// Content weighs the joint vector of the text/image/audio inputs.
	Content float32
	// Positive weighs the mean vector of the positive example products.
	Positive float32
	// Negative weighs the mean vector of the negative example products; it
	// is subtracted.
	Negative float32
	// User weighs the user's profile vector.
	User float32
}

// DefaultQueryWeights: content and positives count fully, negatives and
// the user's profile half.
func DefaultQueryWeights() QueryWeights {
	return QueryWeights{Content: 1, Positive: 1, Negative: 0.5, User: 0.5}
}

// KindWeights are the weights of feedback kinds in a user's profile.
var kindWeights = map[string]float64{"view": 1, "click": 2, "cart": 4, "purchase": 8}

// FeedbackKinds lists the feedback kinds Record accepts.
func FeedbackKinds() []string { return []string{"view", "click", "cart", "purchase"} }

type config struct {
	logger          *slog.Logger
	newIndex        IndexFactory
	follow          map[string]bool // nil: every stored space
	scorer          Scorer
	weights         QueryWeights
	profileHalfLife time.Duration
	popHalfLife     time.Duration
	freshHalfLife   time.Duration
	sessionWindow   time.Duration
	historySize     int
	coocTopN        int
	maxMediaBytes   int
	maxPool         int
	coldLambda      float32
	maxInFlight     int
	queueWait       time.Duration
	registerer      prometheus.Registerer
	now             func() time.Time
	snap            snapshotConfig
	// lexical is the lexical index's configuration; lexicalOff disables
	// the index (and hybrid retrieval).
	lexical       lexical.Config
	lexicalOff    bool
	lexicalWeight float32

	// Feedback trust (issue 12): see WithFeedbackClockSkew,
	// WithFeedbackRetention, WithFeedbackLimits, WithClientIdentity and
	// WithUserContributionCap.
	fbSkew      time.Duration
	fbRetention time.Duration
	fbLimits    FeedbackLimits
	clientID    ClientIdentity
	userCap     int
	userCapWin  time.Duration
	// impSample is the share of Recommend responses logged (WithImpressions).
	impSample float64

	// Voice queries (issue 16): see WithSpeech.
	speech    SpeechRecognizer
	audioMode omnirankv1.AudioMode
}

func defaultConfig() config {
	return config{
		logger: slog.Default(),
		newIndex: func(dim int) (index.Index, error) {
			h, err := index.NewHNSW(dim)
			if err != nil {
				return nil, err
			}
			return h, nil
		},
		scorer:          DefaultLinearScorer(),
		weights:         DefaultQueryWeights(),
		profileHalfLife: 14 * 24 * time.Hour,
		popHalfLife:     7 * 24 * time.Hour,
		freshHalfLife:   30 * 24 * time.Hour,
		sessionWindow:   30 * time.Minute,
		historySize:     200,
		coocTopN:        100,
		maxMediaBytes:   16 << 20,
		maxPool:         10000,
		coldLambda:      0.7,
		maxInFlight:     DefaultMaxInFlight(),
		queueWait:       DefaultQueueWait,
		now:             time.Now,
		snap:            snapshotConfig{keep: 3},
		lexical:         lexical.DefaultConfig(),
		lexicalWeight:   DefaultLexicalWeight,
		fbSkew:          DefaultFeedbackClockSkew,
		fbRetention:     topology.FeedbackRetention,
		fbLimits:        DefaultFeedbackLimits(),
		clientID:        PeerHost,
		userCap:         DefaultUserContributionCap,
		userCapWin:      DefaultUserContributionWindow,
	}
}

// DefaultFeedbackClockSkew is how far in the future a feedback event may
// be dated (client clocks run ahead).
const DefaultFeedbackClockSkew = 5 * time.Minute

// DefaultUserContributionCap and DefaultUserContributionWindow: one user's
// events count towards one product's popularity and co-occurrence at most
// 10 times per 24 hours.
const (
	DefaultUserContributionCap    = 10
	DefaultUserContributionWindow = 24 * time.Hour
)

// WithFeedbackClockSkew sets how far in the future a feedback event may be
// dated (default DefaultFeedbackClockSkew). Record refuses later ones; the
// ranker skips those dated that far after the stream stored them.
func WithFeedbackClockSkew(d time.Duration) Option {
	return durationOption("feedback clock skew", d, func(c *config) { c.fbSkew = d })
}

// WithFeedbackRetention sets how old a feedback event may be (default
// topology.FeedbackRetention, the stream's MaxAge). Record refuses older
// ones and the ranker skips them.
func WithFeedbackRetention(d time.Duration) Option {
	return durationOption("feedback retention", d, func(c *config) { c.fbRetention = d })
}

// WithFeedbackLimits sets Record's rate limits (default
// DefaultFeedbackLimits).
func WithFeedbackLimits(l FeedbackLimits) Option {
	return func(c *config) error {
		if err := l.Validate(); err != nil {
			return err
		}
		c.fbLimits = l
		return nil
	}
}

// WithClientIdentity sets how Record names its caller for the per-client
// rate limit (default PeerHost; an authenticating server passes the
// token's subject).
func WithClientIdentity(f ClientIdentity) Option {
	return func(c *config) error {
		if f == nil {
			return optErr("nil client identity")
		}
		c.clientID = f
		return nil
	}
}

// WithUserContributionCap bounds what one user adds to a product's
// popularity and co-occurrence: at most n of the user's events on the
// product count per window (by event time); further ones are skipped and
// counted (default DefaultUserContributionCap per
// DefaultUserContributionWindow).
func WithUserContributionCap(n int, window time.Duration) Option {
	return func(c *config) error {
		if n < 1 || window <= 0 {
			return optErr("user contribution cap needs n >= 1 and window > 0, got %d per %v", n, window)
		}
		c.userCap, c.userCapWin = n, window
		return nil
	}
}

// Option configures a Ranker (and the Feedback service, which reads only
// the options that concern it).
type Option func(*config) error

func optErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidOption, fmt.Sprintf(format, args...))
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return optErr("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithIndexFactory sets how a space's index is made (default: HNSW with
// its default parameters).
func WithIndexFactory(f IndexFactory) Option {
	return func(c *config) error {
		if f == nil {
			return optErr("nil index factory")
		}
		c.newIndex = f
		return nil
	}
}

// WithSpaces restricts the ranker to the named spaces (default: every space
// in the spaces bucket, including ones created later).
func WithSpaces(names ...string) Option {
	return func(c *config) error {
		if len(names) == 0 {
			return optErr("WithSpaces needs at least one name")
		}
		c.follow = map[string]bool{}
		for _, n := range names {
			if n == "" {
				return optErr("empty space name")
			}
			c.follow[n] = true
		}
		return nil
	}
}

// WithScorer replaces the hand-weighted linear scorer (a learned model,
// say).
func WithScorer(s Scorer) Option {
	return func(c *config) error {
		if s == nil {
			return optErr("nil scorer")
		}
		c.scorer = s
		return nil
	}
}

// WithQueryWeights sets how request inputs mix into the query vector.
func WithQueryWeights(w QueryWeights) Option {
	return func(c *config) error {
		for _, x := range []float32{w.Content, w.Positive, w.Negative, w.User} {
			if x < 0 || math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return optErr("query weights must be finite and >= 0, got %+v", w)
			}
		}
		c.weights = w
		return nil
	}
}

func durationOption(name string, d time.Duration, set func(*config)) Option {
	return func(c *config) error {
		if d <= 0 {
			return optErr("%s must be > 0, got %v", name, d)
		}
		set(c)
		return nil
	}
}

// WithProfileHalfLife sets the half-life of an interaction's weight in a
// user's profile (default 14 days).
func WithProfileHalfLife(d time.Duration) Option {
	return durationOption("profile half-life", d, func(c *config) { c.profileHalfLife = d })
}

// WithPopularityHalfLife sets the half-life of an interaction in item
// popularity (default 7 days).
func WithPopularityHalfLife(d time.Duration) Option {
	return durationOption("popularity half-life", d, func(c *config) { c.popHalfLife = d })
}

// WithFreshnessHalfLife sets the age at which a product's freshness
// feature halves (default 30 days).
func WithFreshnessHalfLife(d time.Duration) Option {
	return durationOption("freshness half-life", d, func(c *config) { c.freshHalfLife = d })
}

// WithSessionWindow sets how close in time two interactions of one user
// must be to count as co-occurring (default 30 minutes).
func WithSessionWindow(d time.Duration) Option {
	return durationOption("session window", d, func(c *config) { c.sessionWindow = d })
}

// WithHistorySize bounds the events kept per user (default 200).
func WithHistorySize(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return optErr("history size must be > 0, got %d", n)
		}
		c.historySize = n
		return nil
	}
}

// WithCooccurrenceTopN bounds the co-occurring items kept per item
// (default 100).
func WithCooccurrenceTopN(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return optErr("co-occurrence top-N must be > 0, got %d", n)
		}
		c.coocTopN = n
		return nil
	}
}

// WithMaxMediaBytes sets the largest query image or audio accepted
// (default 16 MiB).
func WithMaxMediaBytes(n int) Option {
	return func(c *config) error {
		if n <= 0 {
			return optErr("max media bytes must be > 0, got %d", n)
		}
		c.maxMediaBytes = n
		return nil
	}
}

// WithMaxCandidates caps the candidates one request ranks (default
// 10,000); pages beyond it are empty.
func WithMaxCandidates(n int) Option {
	return func(c *config) error {
		if n < 100 {
			return optErr("max candidates must be >= 100, got %d", n)
		}
		c.maxPool = n
		return nil
	}
}

// WithColdStartLambda sets the MMR λ used when a request has no query
// vector (popular or newest items) and sets no mmr_lambda of its own
// (default 0.7; 1 disables diversity there).
func WithColdStartLambda(l float32) Option {
	return func(c *config) error {
		if !(l > 0 && l <= 1) {
			return optErr("cold-start lambda must be in (0, 1], got %v", l)
		}
		c.coldLambda = l
		return nil
	}
}

// DefaultQueueWait is how long a Recommend request waits for a slot when
// every one is taken, before it fails with ResourceExhausted.
const DefaultQueueWait = 20 * time.Millisecond

// DefaultMaxInFlight is the default bound on Recommend requests doing work
// at once: four per usable CPU (GOMAXPROCS), enough to keep the CPUs busy
// while some requests wait on an encoder, few enough that an admitted
// request is not slowed by a crowd.
func DefaultMaxInFlight() int { return 4 * runtime.GOMAXPROCS(0) }

// WithMaxInFlight bounds the Recommend requests doing work at once
// (default DefaultMaxInFlight). A request arriving when all are taken
// waits at most the queue wait (WithQueueWait) and its deadline for one,
// then fails: ResourceExhausted ("ranker overloaded"), or DeadlineExceeded
// when its deadline ended first. The refusals are counted in
// omnirank_ranker_shed_total (WithMetrics) and Stats.
func WithMaxInFlight(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return optErr("max in-flight requests must be >= 1, got %d", n)
		}
		c.maxInFlight = n
		return nil
	}
}

// WithQueueWait sets how long a Recommend request waits for a slot when
// WithMaxInFlight's bound is reached (default DefaultQueueWait; 0: fail at
// once).
func WithQueueWait(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return optErr("queue wait must be >= 0, got %v", d)
		}
		c.queueWait = d
		return nil
	}
}

// WithMetrics registers the ranker's metrics on reg: Recommend requests
// shed (omnirank_ranker_shed_total by reason) and in flight
// (omnirank_ranker_recommend_in_flight).
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return optErr("nil metrics registerer")
		}
		c.registerer = reg
		return nil
	}
}

// WithClock sets the clock used for decays and freshness (tests).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return optErr("nil clock")
		}
		c.now = now
		return nil
	}
}

// DefaultLexicalWeight is the lexical list's share of a hybrid ranking
// when a request sets no lexical_weight: the two lists count equally, as
// in standard (unweighted) reciprocal-rank fusion. A query whose words
// match nothing lexically (synonyms, descriptions) keeps the vector
// ranking whatever the weight, since the lexical list is then empty.
const DefaultLexicalWeight = 0.5

// rrfK is the k of reciprocal-rank fusion: a product at rank r of a list
// scores 1/(rrfK + r) there.
const rrfK = 60

// WithLexical sets the lexical index's field weights, spelling tolerance
// and phrase boost (default lexical.DefaultConfig). Its Logger and
// Expander are the ranker's (WithLogger, WithQueryExpander).
func WithLexical(lc lexical.Config) Option {
	return func(c *config) error {
		lc.Logger, lc.Expander = c.logger, c.lexical.Expander
		if err := lc.Validate(); err != nil {
			return optErr("%v", err)
		}
		c.lexical = lc
		return nil
	}
}

// WithoutLexical turns the lexical index off: text queries are answered
// from the vector index alone.
func WithoutLexical() Option {
	return func(c *config) error {
		c.lexicalOff = true
		return nil
	}
}

// WithQueryExpander expands the query text of the lexical side of hybrid
// retrieval (synonyms, say); default none.
func WithQueryExpander(e lexical.QueryExpander) Option {
	return func(c *config) error {
		if e == nil {
			return optErr("nil query expander")
		}
		c.lexical.Expander = e
		return nil
	}
}

// WithLexicalWeight sets the lexical share of a hybrid ranking for
// requests that set no lexical_weight (default DefaultLexicalWeight).
func WithLexicalWeight(w float32) Option {
	return func(c *config) error {
		if !(w >= 0 && w <= 1) {
			return optErr("lexical weight must be in [0, 1], got %v", w)
		}
		c.lexicalWeight = w
		return nil
	}
}

func buildConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return c, optErr("nil option")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	c.lexical.Logger = c.logger.With("component", "lexical")
	return c, nil
}
