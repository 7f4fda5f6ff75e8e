package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/extractors"
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
	opts := []extractors.Option{extractors.WithDevice(cfg.Device), extractors.WithLogger(log), extractors.WithMetrics(promReg)}
	if cfg.ORTLibrary != "" {
		opts = append(opts, extractors.WithLibraryPath(cfg.ORTLibrary))
	}
	if cfg.IntraOpThreads > 0 {
		opts = append(opts, extractors.WithIntraOpThreads(cfg.IntraOpThreads))
	}
	if cfg.ORTSpinning {
		opts = append(opts, extractors.WithSpinning(true))
	}
	if cfg.BatchSize > 0 {
		opts = append(opts, extractors.WithMaxBatch(cfg.BatchSize))
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
	}
	return sp, sp.Validate()
}

// Close releases every loaded model.
func (e *Encoders) Close() {
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
