// Package extractors turns raw product media (text, images, audio) into
// L2-normalised feature vectors with ONNX encoders run through ONNX Runtime.
//
// It owns the model Registry (loading models/<name>/<version>/ folders from
// the object store once per process, registering local folders, uploading
// the starter models) and the Encoders built from a manifest: starter-hash
// and WordPiece (BERT) text with mean/CLS pooling and windows for long
// text, images (preprocess.ImageTensor → NCHW), and audio (decoded, cut
// into fixed windows, mean-pooled; or, for two-stage models such as
// openWakeWord, turned into feature frames by a frontend graph first).
// Every Encode preprocesses its inputs on GOMAXPROCS workers and feeds the
// model's dynamic batcher (package batch) chunk by chunk, so inference of
// one chunk overlaps the decoding of the next; the batcher and the ONNX
// Runtime session (package ort, thread spinning off by default) are shared
// with every other caller.
//
//	reg, err := extractors.NewRegistry(store, extractors.WithSession(ort.WithDevice(ort.DeviceAuto)))
//	enc, err := reg.Default(ctx, extractors.Image) // starter-image@1
//	vecs, err := enc.Encode(ctx, [][]byte{jpegBytes})
//
// The project ships classical "starter" models (see package
// extractors/starter) so that everything runs out of the box.
package extractors

import (
	"context"
	"fmt"

	"github.com/omnirank/omnirank/extractors/preprocess"
)

// Modality names one kind of product content.
type Modality string

// The modalities omnirank encodes.
const (
	Text  Modality = "text"
	Image Modality = "image"
	Audio Modality = "audio"
)

// Modalities lists every modality in a stable order.
var Modalities = []Modality{Text, Image, Audio}

// ParseModality returns the modality named s.
func ParseModality(s string) (Modality, error) {
	for _, m := range Modalities {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown modality %q", s)
}

// ErrBadInput marks an input that can never be encoded (corrupt image,
// truncated audio, invalid UTF-8, over a size limit). Callers must not retry
// it; they record the reason and move on. Errors wrapping it say why. It is
// preprocess.ErrBadInput, so decoding failures match it too.
var ErrBadInput = preprocess.ErrBadInput

// Encoder encodes raw inputs of one modality into vectors of Dim() float32s,
// L2-normalised. Encode is safe for concurrent use.
type Encoder interface {
	// Modality is the kind of input this encoder takes.
	Modality() Modality
	// Model is "name@version" of the model behind the encoder.
	Model() string
	// Dim is the length of every vector Encode returns.
	Dim() int
	// Encode encodes each input: UTF-8 text, or image / audio file bytes.
	// The result has one vector per input, in order. An input that cannot be
	// encoded fails the call with an error wrapping ErrBadInput that names
	// its index.
	Encode(ctx context.Context, inputs [][]byte) ([][]float32, error)
	// Close releases the ONNX Runtime session and every tensor it owns.
	Close() error
}
