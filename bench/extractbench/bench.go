// Package extractbench owns the extraction throughput benchmark: for each modality
// it compares the whole production path (object bytes → decode →
// preprocess → dynamic batch → ONNX Runtime → pooled, normalised vector)
// with the bare ONNX Runtime session fed ready-made tensors of the same
// batch size, and reports items per second for both and their ratio. The
// CLI's `omnirank bench extract`, cmd/gpu-check and the Go benchmarks call it.
package extractbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/internal/option"
)

// ErrInvalidOptions marks BenchOptions that make no sense.
var ErrInvalidOptions = option.ErrInvalid

// BenchOptions configures BenchExtract. Zero values take the defaults.
type BenchOptions struct {
	// Modalities to measure (default text, image, audio).
	Modalities []extractors.Modality
	// BatchSize is the inference batch for both paths (default 32).
	BatchSize int
	// Items is how many inputs each measurement encodes (default 512).
	Items int
	// Clients is how many goroutines call Encode at once (default GOMAXPROCS).
	Clients int
	// Store holds the models; nil builds the starter models in a temp folder.
	Store extractors.ModelStore
	// Models maps a modality to "name@version" in Store (default: its
	// starter model).
	Models map[extractors.Modality]string
	// ModelDirs are local model folders (manifest.json, model.onnx and the
	// files the manifest names) registered into Store before measuring;
	// each one is measured for its manifest's modality, in place of that
	// modality's entry in Models. When Modalities is empty and ModelDirs is
	// not, only their modalities are measured.
	ModelDirs []string
	// Device, IntraOpThreads, Spinning, LibraryPath configure ONNX
	// Runtime, identically for both paths. Spinning lets ORT's threads
	// busy-wait between operators (off by default, as in the registry).
	Device         string
	IntraOpThreads int
	Spinning       bool
	LibraryPath    string
	Logger         *slog.Logger
	// Rounds repeats each measurement, alternating the two paths, and
	// reports the medians (default 1).
	Rounds int
	// Speech adds the speech recogniser (MeasureSpeech) after the
	// modalities; alone (no Modalities, no ModelDirs) it is the only
	// measurement. Where it cannot run (no PocketSphinx, model or
	// espeak-ng) it is skipped with a warning.
	Speech bool
	// SpeechItems is how many clips each speech measurement transcribes
	// (default 48).
	SpeechItems int
}

// BenchResult is one modality's measurement.
type BenchResult struct {
	Modality  string `json:"modality"`
	Model     string `json:"model"`
	BatchSize int    `json:"batch_size"`
	Items     int    `json:"items"`
	Rounds    int    `json:"rounds"`
	// Medians over the rounds; Ratio is the median of the per-round
	// pipeline/bare ratios (each round measures both paths back to back).
	PipelineItemsPerS float64 `json:"pipeline_items_per_s"`
	BareItemsPerS     float64 `json:"bare_items_per_s"`
	Ratio             float64 `json:"ratio"`
	// Speech only: the mean clip length and the pipeline's milliseconds
	// per second of audio, p50 and p99 over every call.
	AudioSecondsPerItem float64 `json:"audio_s_per_item,omitempty"`
	MsPerAudioSecondP50 float64 `json:"ms_per_audio_s_p50,omitempty"`
	MsPerAudioSecondP99 float64 `json:"ms_per_audio_s_p99,omitempty"`
}

func (o *BenchOptions) defaults() error {
	if len(o.Modalities) == 0 && len(o.ModelDirs) == 0 && !o.Speech {
		o.Modalities = extractors.Modalities
	}
	if o.SpeechItems == 0 {
		o.SpeechItems = 48
	}
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Items == 0 {
		o.Items = 512
	}
	if o.Clients == 0 {
		o.Clients = runtime.GOMAXPROCS(0)
	}
	if o.Device == "" {
		o.Device = "auto"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	if o.Rounds < 0 {
		return fmt.Errorf("%w: rounds %d < 0", ErrInvalidOptions, o.Rounds)
	}
	if o.BatchSize < 1 || o.Items < 1 || o.Clients < 1 || o.IntraOpThreads < 0 || o.SpeechItems < 1 {
		return fmt.Errorf("%w: batch %d, items %d, clients %d, intra-op threads %d", ErrInvalidOptions, o.BatchSize, o.Items, o.Clients, o.IntraOpThreads)
	}
	return nil
}

// BenchExtract measures every requested modality.
func BenchExtract(ctx context.Context, opts BenchOptions) ([]BenchResult, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	var out []BenchResult
	if len(opts.Modalities) > 0 || len(opts.ModelDirs) > 0 {
		res, err := benchModels(ctx, opts)
		if err != nil {
			return nil, err
		}
		out = res
	}
	if opts.Speech {
		r, err := MeasureSpeech(ctx, opts)
		switch {
		case errors.Is(err, ErrNoSpeech):
			opts.Logger.Warn("bench: speech skipped", "err", err)
		case err != nil:
			return nil, err
		default:
			opts.Logger.Info("bench", "modality", r.Modality, "model", r.Model, "pipeline_items_per_s", r.PipelineItemsPerS,
				"ms_per_audio_s_p50", r.MsPerAudioSecondP50, "ms_per_audio_s_p99", r.MsPerAudioSecondP99)
			out = append(out, r)
		}
	}
	return out, nil
}

func benchModels(ctx context.Context, opts BenchOptions) ([]BenchResult, error) {
	store := opts.Store
	if store == nil {
		dir, err := os.MkdirTemp("", "omnirank-bench-*")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		defer os.RemoveAll(dir)
		ds, err := extractors.NewDirStore(dir)
		if err != nil {
			return nil, err
		}
		store = ds
	}
	f, err := NewFixture(ctx, store, opts)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []BenchResult
	for _, m := range f.opts.Modalities {
		r, err := f.Measure(ctx, m)
		if err != nil {
			return nil, err
		}
		opts.Logger.Info("bench", "modality", r.Modality, "model", r.Model, "batch", r.BatchSize,
			"pipeline_items_per_s", r.PipelineItemsPerS, "bare_items_per_s", r.BareItemsPerS, "ratio", r.Ratio)
		out = append(out, r)
	}
	return out, nil
}

// Fixture holds, per modality, an encoder, a bare session over the same
// model bytes, the raw inputs and their ready tensors.
type Fixture struct {
	opts  BenchOptions
	reg   *extractors.Registry
	rt    *ort.Runtime
	store extractors.ModelStore
	mods  map[extractors.Modality]*modalityFixture
}

type modalityFixture struct {
	enc    extractors.Encoder
	sess   *ort.Session
	raw    [][]byte
	inputs []ort.Tensor // one ready batch of BatchSize rows
}

// NewFixture loads the models (uploading the starters if absent) and
// prepares inputs for each modality in opts.
func NewFixture(ctx context.Context, store extractors.ModelStore, opts BenchOptions) (*Fixture, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	ropts := []extractors.Option{
		extractors.WithSession(ort.WithDevice(ort.Device(opts.Device)), ort.WithIntraOpThreads(opts.IntraOpThreads), ort.WithSpinning(opts.Spinning)),
		extractors.WithBatching(batch.WithMaxBatch(opts.BatchSize)), extractors.WithLogger(opts.Logger),
	}
	if opts.LibraryPath != "" {
		ropts = append(ropts, extractors.WithRuntime(ort.WithLibraryPath(opts.LibraryPath)))
	}
	reg, err := extractors.NewRegistry(store, ropts...)
	if err != nil {
		return nil, err
	}
	f := &Fixture{opts: opts, reg: reg, store: store, mods: map[extractors.Modality]*modalityFixture{}}
	if _, err := reg.EnsureStarter(ctx); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	if len(opts.ModelDirs) > 0 {
		f.opts.Models = maps.Clone(opts.Models)
		if f.opts.Models == nil {
			f.opts.Models = map[extractors.Modality]string{}
		}
		explicit := len(opts.Modalities) > 0
		for _, dir := range opts.ModelDirs {
			man, err := reg.Register(ctx, dir)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("bench: %w", err), f.Close())
			}
			m, err := extractors.ParseModality(man.Modality)
			if err != nil {
				return nil, errors.Join(fmt.Errorf("bench: model %s: %w", dir, err), f.Close())
			}
			f.opts.Models[m] = man.ID()
			if !explicit && !slices.Contains(f.opts.Modalities, m) {
				f.opts.Modalities = append(f.opts.Modalities, m)
			}
		}
		opts = f.opts
	}
	var rtOpts []ort.Option
	if opts.LibraryPath != "" {
		rtOpts = append(rtOpts, ort.WithLibraryPath(opts.LibraryPath))
	}
	if f.rt, err = ort.Acquire(rtOpts...); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	for _, m := range opts.Modalities {
		mf, err := f.prepare(ctx, m)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("bench %s: %w", m, err), f.Close())
		}
		f.mods[m] = mf
	}
	return f, nil
}

func (f *Fixture) prepare(ctx context.Context, m extractors.Modality) (*modalityFixture, error) {
	id := f.opts.Models[m]
	if id == "" {
		id = extractors.StarterID(m)
	}
	enc, err := f.reg.Encoder(ctx, id)
	if err != nil {
		return nil, err
	}
	mf := &modalityFixture{enc: enc}
	name, version, _ := extractors.SplitModelID(id)
	man, err := f.reg.LoadManifest(ctx, name, version)
	if err != nil {
		return mf, errors.Join(err, enc.Close())
	}
	model, err := f.store.GetObject(ctx, man.Prefix()+manifest.ModelFile, extractors.DefaultMaxModelBytes)
	if err != nil {
		return nil, errors.Join(err, enc.Close())
	}
	dev, _ := ort.ParseDevice(f.opts.Device)
	sopts := []ort.SessionOption{ort.WithDevice(dev), ort.WithIntraOpThreads(f.opts.IntraOpThreads), ort.WithName(id + " (bare)")}
	if !f.opts.Spinning {
		sopts = append(sopts, ort.WithSpinning(false))
	}
	mf.sess, err = f.rt.NewSession(model, man.InputNames(), []string{man.Outputs[0].Name}, sopts...)
	if err != nil {
		return nil, errors.Join(err, enc.Close())
	}
	mf.raw, err = Inputs(m, f.opts.Items)
	if err != nil {
		return nil, errors.Join(err, mf.close())
	}
	rows := make([][]byte, f.opts.BatchSize)
	for i := range rows {
		rows[i] = mf.raw[i%len(mf.raw)]
	}
	mf.inputs, err = extractors.BatchInputs(ctx, enc, rows)
	if err != nil {
		return nil, errors.Join(err, mf.close())
	}
	return mf, nil
}

func (mf *modalityFixture) close() error {
	var errs []error
	if mf.enc != nil {
		errs = append(errs, mf.enc.Close())
	}
	if mf.sess != nil {
		errs = append(errs, mf.sess.Close())
	}
	return errors.Join(errs...)
}

// Close releases every encoder, session and the runtime.
func (f *Fixture) Close() error {
	var errs []error
	for _, mf := range f.mods {
		errs = append(errs, mf.close())
	}
	f.mods = nil
	errs = append(errs, f.reg.Close())
	if f.rt != nil {
		errs = append(errs, f.rt.Release())
	}
	return errors.Join(errs...)
}

// Measure runs both paths for modality m.
func (f *Fixture) Measure(ctx context.Context, m extractors.Modality) (BenchResult, error) {
	mf, ok := f.mods[m]
	if !ok {
		return BenchResult{}, fmt.Errorf("%w: modality %s not prepared", ErrInvalidOptions, m)
	}
	// Warm both paths once.
	if err := f.Pipeline(ctx, m, f.opts.BatchSize); err != nil {
		return BenchResult{}, err
	}
	if err := f.Bare(ctx, m, 1); err != nil {
		return BenchResult{}, err
	}
	batches := (f.opts.Items + f.opts.BatchSize - 1) / f.opts.BatchSize
	pipes, bares, ratios := make([]float64, f.opts.Rounds), make([]float64, f.opts.Rounds), make([]float64, f.opts.Rounds)
	for i := range f.opts.Rounds {
		start := time.Now()
		if err := f.Pipeline(ctx, m, f.opts.Items); err != nil {
			return BenchResult{}, err
		}
		pipes[i] = float64(f.opts.Items) / time.Since(start).Seconds()
		start = time.Now()
		if err := f.Bare(ctx, m, batches); err != nil {
			return BenchResult{}, err
		}
		bares[i] = float64(batches*f.opts.BatchSize) / time.Since(start).Seconds()
		ratios[i] = pipes[i] / bares[i]
	}
	return BenchResult{
		Modality: string(m), Model: mf.enc.Model(), BatchSize: f.opts.BatchSize, Items: f.opts.Items, Rounds: f.opts.Rounds,
		PipelineItemsPerS: median(pipes), BareItemsPerS: median(bares), Ratio: median(ratios),
	}, nil
}

// median of xs (sorted in place); the mean of the middle two for even len.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// Pipeline encodes n raw inputs through the encoder from Clients
// goroutines, each calling Encode with BatchSize inputs at a time.
func (f *Fixture) Pipeline(ctx context.Context, m extractors.Modality, n int) error {
	mf := f.mods[m]
	var next atomic.Int64
	var g errgroup.Group
	for range f.opts.Clients {
		g.Go(func() error {
			for {
				lo := int(next.Add(int64(f.opts.BatchSize))) - f.opts.BatchSize
				if lo >= n {
					return nil
				}
				hi := min(lo+f.opts.BatchSize, n)
				in := make([][]byte, 0, hi-lo)
				for i := lo; i < hi; i++ {
					in = append(in, mf.raw[i%len(mf.raw)])
				}
				if _, err := mf.enc.Encode(ctx, in); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}

// Bare runs the ready batch through the bare session n times.
func (f *Fixture) Bare(ctx context.Context, m extractors.Modality, n int) error {
	mf := f.mods[m]
	for i := 0; i < n; i++ {
		if _, err := mf.sess.Run(ctx, mf.inputs...); err != nil {
			return err
		}
	}
	return nil
}
