package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/starter"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/wordnet"
)

// StarterSpaceName is the space made of the three starter models.
const StarterSpaceName = "starter-v1"

// starterWeights are the block weights of the starter space: audio is a
// voice-over of the same text, so it counts for less.
var starterWeights = map[extractors.Modality]float32{extractors.Text: 1, extractors.Image: 1, extractors.Audio: 0.5}

// Encoders is the process's model registry: every role that encodes shares
// one loaded session per model.
type Encoders struct {
	*extractors.Registry
	stop context.CancelFunc
	done chan struct{} // closed when the starter-text@2 registration ends
}

// NewEncoders opens the registry over the bucket and uploads the starter
// models if they are not there yet.
func NewEncoders(ctx context.Context, store extractors.ModelStore, cfg Config, promReg prometheus.Registerer, log *slog.Logger) (*Encoders, error) {
	opts := []extractors.Option{extractors.WithLogger(log), extractors.WithMetrics(promReg),
		extractors.WithSession(ort.WithDevice(ort.Device(cfg.Device)), ort.WithIntraOpThreads(cfg.IntraOpThreads), ort.WithSpinning(cfg.ORTSpinning))}
	if cfg.ORTLibrary != "" {
		opts = append(opts, extractors.WithRuntime(ort.WithLibraryPath(cfg.ORTLibrary)))
	}
	if cfg.BatchSize > 0 {
		opts = append(opts, extractors.WithBatching(batch.WithMaxBatch(cfg.BatchSize)))
	}
	reg, err := extractors.NewRegistry(store, opts...)
	if err != nil {
		return nil, fmt.Errorf("model registry: %w", err)
	}
	if _, err := reg.EnsureStarter(ctx); err != nil {
		_ = reg.Close()
		return nil, fmt.Errorf("register starter models: %w", err)
	}
	e := &Encoders{Registry: reg, stop: func() {}, done: make(chan struct{})}
	if cfg.WordNetDir == "" || !cfg.LearnText2 {
		close(e.done)
		return e, nil
	}
	// starter-text@2 takes tens of seconds to learn: register it in the
	// background so the server serves meanwhile.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	e.stop = stop
	go func() {
		defer close(e.done)
		t2 := starter.DefaultText2
		t2.WordNetDir = cfg.WordNetDir
		m, err := reg.EnsureText2(bg, t2)
		switch {
		case errors.Is(err, wordnet.ErrMissing):
			log.Warn("starter-text@2 not registered: it is learnt from WordNet; install the Debian package wordnet-base", "dir", cfg.WordNetDir)
		case err != nil && bg.Err() == nil:
			log.Error("starter-text@2 not registered", "err", err)
		case err == nil:
			log.Info("starter-text@2 registered (not a default: adopt it with a re-embedding campaign)", "model", m.ID(), "dim", m.Dim)
		}
	}()
	return e, nil
}

// StarterSpace describes the space of the starter models.
func (e *Encoders) StarterSpace(ctx context.Context) (spaces.Space, error) {
	sp := spaces.Space{Name: StarterSpaceName}
	for _, m := range extractors.Modalities {
		enc, err := e.Default(ctx, m)
		if err != nil {
			return spaces.Space{}, fmt.Errorf("starter %s model: %w", m, err)
		}
		sp.Blocks = append(sp.Blocks, spaces.Block{Modality: string(m), Model: enc.Model(), Dim: enc.Dim(), Weight: starterWeights[m]})
		// Release the reference: holding it would keep the model's
		// session and batcher alive after the registry closes.
		if err := enc.Close(); err != nil {
			return spaces.Space{}, fmt.Errorf("starter %s model: %w", m, err)
		}
	}
	return sp, sp.Validate()
}

// Close releases every loaded model.
func (e *Encoders) Close() {
	e.stop()
	<-e.done
	_ = e.Registry.Close()
}

// modelLookup says which modality a registered model (name@version)
// encodes and its dimension, from its manifest in the bucket.
func (e *Encoders) modelLookup(ctx context.Context, id string) (string, int, error) {
	name, version, err := extractors.SplitModelID(id)
	if err != nil {
		return "", 0, err
	}
	m, err := e.LoadManifest(ctx, name, version)
	if err != nil {
		return "", 0, err
	}
	return m.Modality, m.Dim, nil
}
