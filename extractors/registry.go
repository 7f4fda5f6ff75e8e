package extractors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/internal/option"
)

// Manifest describes one model version (see package manifest).
type Manifest = manifest.Manifest

// ParseManifest decodes and validates manifest.json bytes.
func ParseManifest(data []byte) (Manifest, error) { return manifest.Parse(data) }

// Sentinel errors of the registry.
var (
	// ErrClosed: the registry or encoder was closed.
	ErrClosed = errors.New("closed")
	// ErrInvalidOption: an option had an invalid value (the same error as
	// ort's and batch's, option.ErrInvalid).
	ErrInvalidOption = option.ErrInvalid
	// ErrModelNotFound: no manifest under models/<name>/<version>/.
	ErrModelNotFound = errors.New("model not found")
	// ErrInvalidModel: a model folder is incomplete or inconsistent.
	ErrInvalidModel = manifest.ErrInvalid
)

// Size limits for objects of a model folder.
const (
	maxManifestBytes = 1 << 20
	maxVocabBytes    = 64 << 20
	// DefaultMaxModelBytes bounds model.onnx (2 GiB, protobuf's limit).
	DefaultMaxModelBytes = 2 << 30
)

type config struct {
	runtime       []ort.Option
	session       []ort.SessionOption
	batching      []batch.Option
	logger        *slog.Logger
	promReg       prometheus.Registerer
	maxModelBytes int64
	workers       int
}

// Option configures a Registry. Every option checks its value when
// NewRegistry applies it and fails with ErrInvalidOption.
type Option func(*config) error

// WithRuntime passes options to ONNX Runtime's loading (ort.Acquire), such
// as ort.WithLibraryPath (else ONNXRUNTIME_LIB, else the cache folder
// `make setup` fills).
func WithRuntime(opts ...ort.Option) Option {
	return func(c *config) error {
		if err := ort.ValidateOptions(opts...); err != nil {
			return err
		}
		c.runtime = append(c.runtime, opts...)
		return nil
	}
}

// WithSession passes options to every model's ONNX Runtime session:
// ort.WithDevice, ort.WithIntraOpThreads, ort.WithInterOpThreads,
// ort.WithSpinning. They apply after the registry's defaults, which are
// ort.WithDevice(ort.DeviceAuto) and ort.WithSpinning(false): while one
// batch runs, Encode decodes and preprocesses the next on the same cores,
// and spinning threads would take that CPU for nothing.
func WithSession(opts ...ort.SessionOption) Option {
	return func(c *config) error {
		if err := ort.ValidateSessionOptions(opts...); err != nil {
			return err
		}
		c.session = append(c.session, opts...)
		return nil
	}
}

// WithBatching passes options to every model's dynamic batcher:
// batch.WithMaxBatch (default 32), batch.WithMaxDelay (default 2 ms),
// batch.WithConcurrency (default 1), batch.WithQueueSize.
func WithBatching(opts ...batch.Option) Option {
	return func(c *config) error {
		if err := batch.ValidateOptions(opts...); err != nil {
			return err
		}
		c.batching = append(c.batching, opts...)
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// WithMetrics registers the batching histograms on reg.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return fmt.Errorf("%w: nil prometheus registerer", ErrInvalidOption)
		}
		c.promReg = reg
		return nil
	}
}

// WithMaxModelBytes bounds model.onnx (default DefaultMaxModelBytes).
func WithMaxModelBytes(n int64) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: max model bytes %d < 1", ErrInvalidOption, n)
		}
		c.maxModelBytes = n
		return nil
	}
}

// WithPreprocessWorkers is how many inputs of one Encode call are decoded
// in parallel (default GOMAXPROCS).
func WithPreprocessWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: preprocess workers %d < 1", ErrInvalidOption, n)
		}
		c.workers = n
		return nil
	}
}

// Registry loads models from the object store, once each, and hands out
// encoders that share them. Make one per process; Close it last.
type Registry struct {
	store   ModelStore
	cfg     config
	metrics *batch.Metrics

	mu     sync.Mutex
	rt     *ort.Runtime
	models map[string]*entry
	closed bool
}

type entry struct {
	ready chan struct{}
	m     *model
	err   error
}

// NewRegistry makes a registry over store. ONNX Runtime is loaded when the
// first model is.
func NewRegistry(store ModelStore, opts ...Option) (*Registry, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil model store", ErrInvalidOption)
	}
	cfg := config{
		session:  []ort.SessionOption{ort.WithDevice(ort.DeviceAuto), ort.WithSpinning(false)},
		batching: []batch.Option{batch.WithMaxBatch(32), batch.WithMaxDelay(2 * time.Millisecond), batch.WithConcurrency(1)},
		logger:   slog.Default(), maxModelBytes: DefaultMaxModelBytes, workers: runtime.GOMAXPROCS(0),
	}
	if err := option.Apply(&cfg, opts...); err != nil {
		return nil, err
	}
	r := &Registry{store: store, cfg: cfg, models: map[string]*entry{}}
	if cfg.promReg != nil {
		m, err := batch.NewMetrics(cfg.promReg)
		if err != nil {
			return nil, err
		}
		r.metrics = m
	}
	return r, nil
}

// StarterID is "name@version" of the starter model for modality m.
func StarterID(m Modality) string {
	switch m {
	case Text:
		return starter.TextName + "@" + starter.Version
	case Image:
		return starter.ImageName + "@" + starter.Version
	case Audio:
		return starter.AudioName + "@" + starter.Version
	}
	return ""
}

// SplitModelID splits "name@version".
func SplitModelID(id string) (name, version string, err error) {
	name, version, ok := strings.Cut(id, "@")
	if !ok || name == "" || version == "" || strings.ContainsAny(id, "/\\") {
		return "", "", fmt.Errorf("%w: model %q must be name@version", ErrInvalidOption, id)
	}
	return name, version, nil
}

// Default returns the encoder of the starter model for modality m,
// uploading the starter models first if the store lacks them.
func (r *Registry) Default(ctx context.Context, m Modality) (Encoder, error) {
	id := StarterID(m)
	if id == "" {
		return nil, fmt.Errorf("%w: no starter model for modality %q", ErrInvalidOption, m)
	}
	if _, err := r.EnsureStarter(ctx); err != nil {
		return nil, err
	}
	return r.Encoder(ctx, id)
}

// Encoder returns an encoder for model "name@version", loading it on first
// use. Encoders of one model share its session and batcher; Close on an
// encoder releases its reference (the registry keeps its own until Close).
func (r *Registry) Encoder(ctx context.Context, id string) (Encoder, error) {
	name, version, err := SplitModelID(id)
	if err != nil {
		return nil, err
	}
	id = name + "@" + version
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("registry: %w", ErrClosed)
	}
	e, ok := r.models[id]
	if !ok {
		e = &entry{ready: make(chan struct{})}
		r.models[id] = e
		r.mu.Unlock()
		e.m, e.err = r.load(ctx, name, version)
		r.mu.Lock()
		if e.err != nil {
			delete(r.models, id) // let a later call retry
		} else if r.closed {
			// Closed while loading: nobody else will release it.
			e.err = fmt.Errorf("registry: %w", ErrClosed)
			_ = e.m.release()
			e.m = nil
		}
		close(e.ready)
	}
	r.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	if !e.m.acquire() {
		return nil, fmt.Errorf("model %s: %w", id, ErrClosed)
	}
	return &handle{m: e.m}, nil
}

// Loaded reports whether model "name@version" is loaded and ready: an
// Encoder call for it returns at once. False while its first load runs.
func (r *Registry) Loaded(id string) bool {
	name, version, err := SplitModelID(id)
	if err != nil {
		return false
	}
	r.mu.Lock()
	e, ok := r.models[name+"@"+version]
	r.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case <-e.ready:
		return e.err == nil
	default:
		return false
	}
}

func (r *Registry) runtime() (*ort.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rt != nil {
		return r.rt, nil
	}
	opts := append([]ort.Option{ort.WithLogger(r.cfg.logger)}, r.cfg.runtime...)
	rt, err := ort.Acquire(opts...)
	if err != nil {
		return nil, err
	}
	r.rt = rt
	return rt, nil
}

// LoadManifest reads and validates models/<name>/<version>/manifest.json.
func (r *Registry) LoadManifest(ctx context.Context, name, version string) (Manifest, error) {
	key := manifest.FolderKey(name, version) + manifest.FileName
	keys, err := r.store.List(ctx, key)
	if err != nil {
		return Manifest{}, fmt.Errorf("look up %s: %w", key, err)
	}
	if !slices.Contains(keys, key) {
		return Manifest{}, fmt.Errorf("%w: %s@%s (no %s)", ErrModelNotFound, name, version, key)
	}
	b, err := r.store.GetObject(ctx, key, maxManifestBytes)
	if err != nil {
		return Manifest{}, fmt.Errorf("read %s: %w", key, err)
	}
	m, err := manifest.Parse(b)
	if err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", key, err)
	}
	if m.Name != name || m.Version != version {
		return Manifest{}, fmt.Errorf("%w: %s names %s, not %s@%s", ErrInvalidModel, key, m.ID(), name, version)
	}
	return m, nil
}

func (r *Registry) load(ctx context.Context, name, version string) (*model, error) {
	man, err := r.LoadManifest(ctx, name, version)
	if err != nil {
		return nil, err
	}
	prefix := man.Prefix()
	onnxBytes, err := r.store.GetObject(ctx, prefix+manifest.ModelFile, r.cfg.maxModelBytes)
	if err != nil {
		return nil, fmt.Errorf("read %s%s: %w", prefix, manifest.ModelFile, err)
	}
	extra := map[string][]byte{}
	for _, f := range man.ExtraFiles() {
		limit := int64(maxVocabBytes)
		if strings.HasSuffix(f, ".onnx") {
			limit = r.cfg.maxModelBytes
		}
		b, err := r.store.GetObject(ctx, prefix+f, limit)
		if err != nil {
			return nil, fmt.Errorf("read %s%s: %w", prefix, f, err)
		}
		extra[f] = b
	}
	rt, err := r.runtime()
	if err != nil {
		return nil, err
	}
	m, err := newModel(rt, man, onnxBytes, extra, r.cfg, r.metrics)
	if err != nil {
		return nil, err
	}
	r.cfg.logger.Info("model loaded", "model", man.ID(), "modality", man.Modality, "dim", man.Dim, "device", m.sess.Device())
	return m, nil
}

// Models lists the manifests of every model in the store. Folders whose
// manifest does not validate are skipped with a warning.
func (r *Registry) Models(ctx context.Context) ([]Manifest, error) {
	keys, err := r.store.List(ctx, "models/")
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	var out []Manifest
	for _, k := range keys {
		parts := strings.Split(k, "/")
		if len(parts) != 4 || parts[3] != manifest.FileName {
			continue
		}
		m, err := r.LoadManifest(ctx, parts[1], parts[2])
		if err != nil {
			r.cfg.logger.Warn("skipping invalid model folder", "key", k, "err", err)
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// Register validates the model folder dir (model.onnx, manifest.json and
// the files its manifest names: tokenizer, audio frontend) and uploads it to
// models/<name>/<version>/, manifest last.
func (r *Registry) Register(ctx context.Context, dir string) (Manifest, error) {
	mb, err := os.ReadFile(filepath.Join(dir, manifest.FileName))
	if err != nil {
		return Manifest{}, fmt.Errorf("register %s: %w", dir, err)
	}
	man, err := manifest.Parse(mb)
	if err != nil {
		return Manifest{}, fmt.Errorf("register %s: %w", dir, err)
	}
	files := map[string][]byte{}
	need := append([]string{manifest.ModelFile}, man.ExtraFiles()...)
	for _, f := range need {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return Manifest{}, fmt.Errorf("register %s: %w: %v", dir, ErrInvalidModel, err)
		}
		if len(b) == 0 {
			return Manifest{}, fmt.Errorf("register %s: %w: %s is empty", dir, ErrInvalidModel, f)
		}
		files[f] = b
	}
	return man, r.upload(ctx, man, files)
}

func (r *Registry) upload(ctx context.Context, man Manifest, files map[string][]byte) error {
	prefix := man.Prefix()
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		ct := "application/octet-stream"
		if strings.HasSuffix(f, ".json") {
			ct = "application/json"
		} else if strings.HasSuffix(f, ".txt") {
			ct = "text/plain; charset=utf-8"
		}
		if err := r.store.PutObject(ctx, prefix+f, files[f], ct); err != nil {
			return fmt.Errorf("upload %s%s: %w", prefix, f, err)
		}
	}
	mb, err := man.Marshal()
	if err != nil {
		return err
	}
	if err := r.store.PutObject(ctx, prefix+manifest.FileName, mb, "application/json"); err != nil {
		return fmt.Errorf("upload %s%s: %w", prefix, manifest.FileName, err)
	}
	r.cfg.logger.Info("model registered", "model", man.ID(), "prefix", prefix)
	return nil
}

// EnsureStarter uploads each starter model whose manifest is absent from
// the store and returns the three manifests.
func (r *Registry) EnsureStarter(ctx context.Context) ([]Manifest, error) {
	var out []Manifest
	for _, mod := range starter.Modalities {
		name, version, _ := SplitModelID(StarterID(Modality(mod)))
		if m, err := r.LoadManifest(ctx, name, version); err == nil {
			out = append(out, m)
			continue
		} else if !errors.Is(err, ErrModelNotFound) {
			return nil, err
		}
		model, man, err := starter.Build(mod)
		if err != nil {
			return nil, err
		}
		if err := r.upload(ctx, man, map[string][]byte{manifest.ModelFile: model}); err != nil {
			return nil, err
		}
		out = append(out, man)
	}
	return out, nil
}

// EnsureText2 registers starter-text@2 (built with cfg, normally
// starter.DefaultText2 with the WordNet folder set) unless it is already
// in the store, and returns its manifest. It is separate from EnsureStarter because the
// build learns word vectors (tens of seconds) and needs the wordnet-base
// package: without it the error wraps wordnet.ErrMissing. starter-text@2
// is registered, not made any space's default.
func (r *Registry) EnsureText2(ctx context.Context, cfg starter.Text2Config) (Manifest, error) {
	if m, err := r.LoadManifest(ctx, starter.TextName, starter.Text2Version); err == nil {
		return m, nil
	} else if !errors.Is(err, ErrModelNotFound) {
		return Manifest{}, err
	}
	t, err := starter.BuildText2(ctx, cfg)
	if err != nil {
		return Manifest{}, err
	}
	if err := r.upload(ctx, t.Manifest, t.Files()); err != nil {
		return Manifest{}, err
	}
	return t.Manifest, nil
}

// Close drops the registry's reference to every loaded model (each closes
// once its last encoder is closed too) and to ONNX Runtime.
func (r *Registry) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	var loaded []*model
	for _, e := range r.models {
		select {
		case <-e.ready:
			if e.m != nil {
				loaded = append(loaded, e.m)
			}
		default: // still loading; Encoder releases it when done
		}
	}
	r.models = nil
	rt := r.rt
	r.rt = nil
	r.mu.Unlock()
	var errs []error
	for _, m := range loaded {
		errs = append(errs, m.release())
	}
	if rt != nil {
		errs = append(errs, rt.Release())
	}
	return errors.Join(errs...)
}
