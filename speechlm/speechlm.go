// Package speechlm keeps the catalogue's speech language model (issue 16).
//
// A Builder follows the products KV bucket and, when the catalogue's words
// change, rebuilds the recogniser's language model and pronunciation
// dictionary from every product's title, brand and category names
// (speech.BuildLanguageModel), stores the files in the bucket under
// speech/lm/<version>/ — the version is a hash of the content, so the same
// catalogue gives the same version on every builder — and names the
// version in KV speech/lm. Follow loads the named model and hands it to a
// recogniser (speech.Pool.SetLanguageModel): rankers for voice queries,
// the transcription worker for spoken product media.
package speechlm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Files of a stored language model, under storage.SpeechLMPrefix/<version>/.
var Files = []string{"lm.arpa", "lm.dict", "lm.json"}

// maxFileBytes bounds one stored file on load.
const maxFileBytes = 256 << 20

// Key is the object key of one file of a stored language model.
func Key(version, file string) string { return storage.SpeechLMPrefix + version + "/" + file }

// Option configures a Builder.
type Option func(*config) error

type config struct {
	logger   *slog.Logger
	debounce time.Duration
	maxDelay time.Duration
	lmOpts   []speech.LMOption
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return option.Errorf("nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithDebounce sets how long the catalogue must be quiet before a rebuild
// (default 2 s), and the longest a change waits while it keeps changing
// (default 30 s).
func WithDebounce(quiet, maxDelay time.Duration) Option {
	return func(c *config) error {
		if quiet <= 0 || maxDelay < quiet {
			return option.Errorf("debounce %v, max delay %v: want 0 < quiet <= max delay", quiet, maxDelay)
		}
		c.debounce, c.maxDelay = quiet, maxDelay
		return nil
	}
}

// WithLMOptions passes options to speech.BuildLanguageModel (the base
// dictionary, a grapheme-to-phoneme model, extra phrases).
func WithLMOptions(opts ...speech.LMOption) Option {
	return func(c *config) error {
		c.lmOpts = append(c.lmOpts, opts...)
		return nil
	}
}

// Builder rebuilds and publishes the catalogue language model.
type Builder struct {
	js    jetstream.JetStream
	store storage.ObjectStore
	cfg   config

	mu      sync.Mutex
	corpus  map[string][]string // product id -> its lines
	version string              // last version published (or found)
}

// NewBuilder returns a builder over js's products bucket that stores models
// in store.
func NewBuilder(js jetstream.JetStream, store storage.ObjectStore, opts ...Option) (*Builder, error) {
	if js == nil || store == nil {
		return nil, option.Errorf("speechlm: nil JetStream or object store")
	}
	c := config{logger: slog.Default(), debounce: 2 * time.Second, maxDelay: 30 * time.Second}
	for _, o := range opts {
		if o == nil {
			return nil, option.Errorf("speechlm: nil option")
		}
	}
	if err := option.Apply(&c, opts...); err != nil {
		return nil, fmt.Errorf("speechlm: %w", err)
	}
	return &Builder{js: js, store: store, cfg: c, corpus: map[string][]string{}}, nil
}

// Lines are the language-model corpus lines of one product: its title, its
// brand and each category name.
func Lines(rec topology.ProductRecord) []string {
	p := rec.Product
	lines := []string{p.Title}
	if p.Brand != "" {
		lines = append(lines, p.Brand)
	}
	for _, c := range p.Category {
		lines = append(lines, strings.ReplaceAll(c, "_", " "))
	}
	return lines
}

// Run follows the products bucket until ctx ends: it builds once the
// bucket's current content is read, then after every change of the
// catalogue's words (debounced). A failed build is logged and retried at
// the next change or after the longest delay.
func (b *Builder) Run(ctx context.Context) error {
	kv, err := b.js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		return fmt.Errorf("speechlm: open bucket %s: %w", topology.BucketProducts, err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("speechlm: watch products: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var (
		timer     *time.Timer
		fire      <-chan time.Time
		firstDirt time.Time
		replayed  bool
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	schedule := func(d time.Duration) {
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		fire = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("speechlm: products watch ended")
			}
			if e == nil {
				replayed = true
				schedule(0)
				continue
			}
			if !b.apply(e) || !replayed {
				continue
			}
			now := time.Now()
			if firstDirt.IsZero() {
				firstDirt = now
			}
			schedule(min(b.cfg.debounce, max(0, b.cfg.maxDelay-now.Sub(firstDirt))))
		case <-fire:
			fire, firstDirt = nil, time.Time{}
			if _, err := b.Build(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				b.cfg.logger.Error("speech language model build failed; retrying", "err", err)
				schedule(b.cfg.maxDelay)
			}
		}
	}
}

// apply records one products-bucket entry; it reports whether the
// catalogue's words changed.
func (b *Builder) apply(e jetstream.KeyValueEntry) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		_, had := b.corpus[id]
		delete(b.corpus, id)
		return had
	}
	var rec topology.ProductRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		b.cfg.logger.Warn("speechlm: skipping product record", "key", id, "err", err)
		return false
	}
	lines := Lines(rec)
	if slices.Equal(b.corpus[id], lines) {
		return false
	}
	b.corpus[id] = lines
	return true
}

// Build builds the model from the catalogue as followed so far and
// publishes it unless the published version is the same. It returns the
// version.
func (b *Builder) Build(ctx context.Context) (string, error) {
	b.mu.Lock()
	ids := make([]string, 0, len(b.corpus))
	for id := range b.corpus {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var corpus []string
	for _, id := range ids {
		corpus = append(corpus, b.corpus[id]...)
	}
	b.mu.Unlock()
	start := time.Now()
	lm, err := speech.BuildLanguageModel(corpus, b.cfg.lmOpts...)
	if err != nil {
		return "", fmt.Errorf("build speech language model of %d products: %w", len(ids), err)
	}
	built := time.Since(start)
	if err := Publish(ctx, b.js, b.store, lm); err != nil {
		return "", err
	}
	b.mu.Lock()
	changed := b.version != lm.Version()
	b.version = lm.Version()
	b.mu.Unlock()
	if changed {
		b.cfg.logger.Info("speech language model published", "version", lm.Version(), "products", len(ids),
			"words", lm.Words(), "oov", len(lm.OOV()), "build_ms", built.Milliseconds())
	}
	return lm.Version(), nil
}

// Publish stores lm's files in the bucket (unless there already) and names
// it the current model in KV speech/lm (unless it already is).
func Publish(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore, lm *speech.LanguageModel) error {
	kv, err := js.KeyValue(ctx, topology.BucketSpeech)
	if err != nil {
		return fmt.Errorf("speechlm: open bucket %s: %w", topology.BucketSpeech, err)
	}
	if e, err := kv.Get(ctx, topology.SpeechLMKey); err == nil && string(e.Value()) == lm.Version() {
		return nil
	} else if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("speechlm: read current version: %w", err)
	}
	dir, err := os.MkdirTemp("", "omnirank-speechlm-*")
	if err != nil {
		return fmt.Errorf("speechlm: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := lm.WriteDir(dir); err != nil {
		return fmt.Errorf("speechlm: write model %s: %w", lm.Version(), err)
	}
	for _, f := range Files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return fmt.Errorf("speechlm: %w", err)
		}
		if err := store.PutObject(ctx, Key(lm.Version(), f), data, "text/plain"); err != nil {
			return fmt.Errorf("speechlm: store %s: %w", Key(lm.Version(), f), err)
		}
	}
	if _, err := kv.Put(ctx, topology.SpeechLMKey, []byte(lm.Version())); err != nil {
		return fmt.Errorf("speechlm: name version %s current: %w", lm.Version(), err)
	}
	return nil
}

// Load reads a stored language model from the bucket.
func Load(ctx context.Context, store storage.ObjectStore, version string) (*speech.LanguageModel, error) {
	if version == "" || strings.ContainsAny(version, "/.") {
		return nil, fmt.Errorf("speechlm: bad version %q", version)
	}
	dir, err := os.MkdirTemp("", "omnirank-speechlm-*")
	if err != nil {
		return nil, fmt.Errorf("speechlm: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, f := range Files {
		data, err := store.GetObject(ctx, Key(version, f), maxFileBytes)
		if err != nil {
			return nil, fmt.Errorf("speechlm: read %s: %w", Key(version, f), err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return nil, fmt.Errorf("speechlm: %w", err)
		}
	}
	lm, err := speech.LoadLanguageModel(dir)
	if err != nil {
		return nil, fmt.Errorf("speechlm: load %s: %w", version, err)
	}
	return lm, nil
}

// Current loads the model named current in KV speech/lm.
func Current(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore) (*speech.LanguageModel, error) {
	kv, err := js.KeyValue(ctx, topology.BucketSpeech)
	if err != nil {
		return nil, fmt.Errorf("speechlm: open bucket %s: %w", topology.BucketSpeech, err)
	}
	e, err := kv.Get(ctx, topology.SpeechLMKey)
	if err != nil {
		return nil, fmt.Errorf("speechlm: current version: %w", err)
	}
	return Load(ctx, store, string(e.Value()))
}

// Follow hands every model named current in KV speech/lm to set (the
// current one at once), until ctx ends. A model that does not load is
// logged and skipped; the one in use stays. set is meant to be
// speech.Pool.SetLanguageModel.
func Follow(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore, set func(*speech.LanguageModel) error, log *slog.Logger) error {
	return topology.FollowKey(ctx, js, topology.BucketSpeech, topology.SpeechLMKey, func(e jetstream.KeyValueEntry) {
		if e.Operation() != jetstream.KeyValuePut {
			return
		}
		version := string(e.Value())
		lm, err := Load(ctx, store, version)
		if err == nil {
			err = set(lm)
		}
		switch {
		case err == nil:
			log.Info("speech language model loaded", "version", version, "words", lm.Words())
		case ctx.Err() == nil:
			log.Error("speech language model not loaded; keeping the one in use", "version", version, "err", err)
		}
	})
}
