package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/spaces"
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
	return &Encoders{Registry: reg}, nil
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
	_ = e.Registry.Close()
}
