// Package starter builds omnirank's starter models: deterministic ONNX
// graphs (opset 17) written from Go, so every modality can be encoded out
// of the box without downloading weights. They are honest classical
// features, not neural networks:
//
//   - starter-text: words and character 3-grams hashed (FNV-1a, fixed seed)
//     into 2^16 buckets by HashTokenizer in Go; the graph sums the weighted
//     rows of a fixed pseudo-random ±1 table (2^16 × 256, stored as int8,
//     16 MiB) and L2-normalises: a random projection of the bag of n-grams.
//   - starter-image: 64×64 centre crop; colour layout (8×8 luma and 4×4
//     chroma averages), a soft per-channel colour histogram, and a 2×2 grid
//     of edge-orientation histograms from Sobel gradients; each block
//     L2-normalised, concatenated, L2-normalised (152 dims).
//   - starter-audio: 2 s windows at 16 kHz; STFT → power → 64 mel bins →
//     log; per-bin mean (minus the overall mean, so gain cancels), per-bin
//     standard deviation, and the standard deviation of frame-to-frame
//     deltas, each block centred and L2-normalised (192 dims).
//
// Build returns the same bytes on every call and every machine.
package starter

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/omnirank/omnirank/extractors/internal/onnxgraph"
	"github.com/omnirank/omnirank/extractors/manifest"
)

// Opset is the ONNX opset of every starter graph.
const Opset = 17

// Version is the version of all three starter models.
const Version = "1"

// Starter model names.
const (
	TextName  = "starter-text"
	ImageName = "starter-image"
	AudioName = "starter-audio"
)

// Licence of the generated models (they are the project's own work).
const Licence = "Apache-2.0"

// Starter model shapes.
const (
	TextBuckets   = 1 << 16
	TextDim       = 256
	TextMaxLength = 512

	ImageSize = 64
	ImageDim  = 64 + 32 + 24 + 32

	AudioSampleRate = 16000
	AudioWindowS    = 2.0
	AudioMels       = 64
	AudioDim        = 3 * AudioMels
	AudioTopDB      = 30.0
)

// ErrUnknownModality: Build was asked for a modality it does not know.
var ErrUnknownModality = errors.New("unknown modality")

// Modalities lists the modalities Build knows, in a stable order.
var Modalities = []string{"text", "image", "audio"}

// Build returns the ONNX bytes and the manifest of the starter model for
// modality ("text", "image" or "audio").
func Build(modality string) ([]byte, manifest.Manifest, error) {
	var (
		model []byte
		m     manifest.Manifest
		err   error
	)
	switch modality {
	case "text":
		model, err = buildText()
		m = TextManifest()
	case "image":
		model, err = buildImage()
		m = ImageManifest()
	case "audio":
		model, err = buildAudio()
		m = AudioManifest()
	default:
		return nil, manifest.Manifest{}, fmt.Errorf("%w %q", ErrUnknownModality, modality)
	}
	if err != nil {
		return nil, manifest.Manifest{}, fmt.Errorf("build starter %s model: %w", modality, err)
	}
	if err := m.Validate(); err != nil {
		return nil, manifest.Manifest{}, err
	}
	return model, m, nil
}

// TextManifest is starter-text's manifest.
func TextManifest() manifest.Manifest {
	return manifest.Manifest{
		Name: TextName, Version: Version, Modality: "text", Licence: Licence,
		Description: "Hashed words and character 3-grams (2^16 buckets) projected by a fixed pseudo-random ±1 table; classical features, not a neural network.",
		Inputs: []manifest.Input{
			{Name: "ids", Role: manifest.RoleHashIDs, Layout: "BL"},
			{Name: "weights", Role: manifest.RoleHashWeights, Layout: "BL"},
		},
		Outputs: []manifest.Output{{Name: "embedding", Pooling: manifest.PoolNone}},
		Dim:     TextDim,
		Preprocess: manifest.Preprocessing{Text: &manifest.TextPre{
			Tokenizer: manifest.TokenizerStarterHash, MaxLength: TextMaxLength, Lowercase: true, Buckets: TextBuckets,
		}},
	}
}

// ImageManifest is starter-image's manifest.
func ImageManifest() manifest.Manifest {
	return manifest.Manifest{
		Name: ImageName, Version: Version, Modality: "image", Licence: Licence,
		Description: "Colour layout, soft colour histogram and edge-orientation histograms of a 64x64 centre crop; classical features, not a neural network.",
		Inputs:      []manifest.Input{{Name: "pixels", Role: manifest.RolePixels, Layout: "NCHW"}},
		Outputs:     []manifest.Output{{Name: "embedding", Pooling: manifest.PoolNone}},
		Dim:         ImageDim,
		Preprocess: manifest.Preprocessing{Image: &manifest.ImagePre{
			Size: ImageSize, Resize: manifest.ResizeCenterCrop,
			Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}, Scale: 1.0 / 255, MaxPixels: 50_000_000,
		}},
	}
}

// AudioManifest is starter-audio's manifest.
func AudioManifest() manifest.Manifest {
	return manifest.Manifest{
		Name: AudioName, Version: Version, Modality: "audio", Licence: Licence,
		Description: "Log-mel statistics (per-bin mean, spread and delta spread over 64 mel bins) computed in the graph from the 16 kHz waveform; classical features, not a neural network.",
		Inputs:      []manifest.Input{{Name: "waveform", Role: manifest.RoleWaveform, Layout: "BT"}},
		Outputs:     []manifest.Output{{Name: "embedding", Pooling: manifest.PoolNone}},
		Dim:         AudioDim,
		Preprocess: manifest.Preprocessing{Audio: &manifest.AudioPre{
			SampleRate: AudioSampleRate, WindowSeconds: AudioWindowS, HopSeconds: AudioWindowS,
			Input: "waveform", MaxSeconds: 600, MaxWindows: 64,
		}},
	}
}

// l2norm divides x by its L2 norm over the last axis, with the squared
// norm floored at floor so near-zero blocks are not blown up.
func l2norm(g *onnxgraph.Graph, x string, floor float32) string {
	ss := g.Node("ReduceSumSquare", []string{x}, onnxgraph.AInts("axes", -1), onnxgraph.AInt("keepdims", 1))
	n := g.Op("Sqrt", g.Op("Max", ss, g.Scalar(floor)))
	return g.Op("Div", x, n)
}

// centre subtracts the mean over the last axis.
func centre(g *onnxgraph.Graph, x string) string {
	mu := g.Node("ReduceMean", []string{x}, onnxgraph.AInts("axes", -1), onnxgraph.AInt("keepdims", 1))
	return g.Op("Sub", x, mu)
}

func buildText() ([]byte, error) {
	g := onnxgraph.New(TextName)
	ids := g.Input("ids", onnxgraph.Int64, "batch", "features")
	w := g.Input("weights", onnxgraph.Float, "batch", "features")
	// ±1 table from a fixed PCG stream (hashTable).
	t := g.Raw(onnxgraph.Int8, []int64{TextBuckets, TextDim}, hashTable())
	out := l2norm(g, bagOfRows(g, t, ids, w), 1e-12)
	g.Output(out, "embedding", onnxgraph.Float, "batch", TextDim)
	return g.Model(Opset, "omnirank-starter", "starter-text: hashed n-gram random projection")
}

// newTextRNG is the fixed PCG stream of starter-text's ±1 table.
func newTextRNG() *rand.Rand {
	return rand.New(rand.NewPCG(0x6f6d6e6972616e6b, 0x7374617274657231))
}

func buildImage() ([]byte, error) {
	const s = ImageSize
	g := onnxgraph.New(ImageName)
	x := g.Input("pixels", onnxgraph.Float, "batch", 3, s, s)
	// Opponent colour space: luma (centred) and two chroma channels.
	opp := g.Op("Conv", x,
		g.Floats([]int64{3, 3, 1, 1}, []float32{
			0.299, 0.587, 0.114,
			-0.169, -0.331, 0.5,
			0.5, -0.419, -0.081,
		}),
		g.Floats([]int64{3}, []float32{-0.5, 0, 0}))
	luma := g.Op("Slice", opp, g.Ints([]int64{1}, []int64{0}), g.Ints([]int64{1}, []int64{1}), g.Ints([]int64{1}, []int64{1}))
	chroma := g.Op("Slice", opp, g.Ints([]int64{1}, []int64{1}), g.Ints([]int64{1}, []int64{3}), g.Ints([]int64{1}, []int64{1}))

	// Block 1: 8×8 luma layout, centred.
	lp := g.Node("AveragePool", []string{luma}, onnxgraph.AInts("kernel_shape", s/8, s/8), onnxgraph.AInts("strides", s/8, s/8))
	b1 := l2norm(g, centre(g, g.Node("Flatten", []string{lp}, onnxgraph.AInt("axis", 1))), 1e-4)
	// Block 2: 4×4 chroma layout.
	cp := g.Node("AveragePool", []string{chroma}, onnxgraph.AInts("kernel_shape", s/4, s/4), onnxgraph.AInts("strides", s/4, s/4))
	b2 := l2norm(g, g.Node("Flatten", []string{cp}, onnxgraph.AInt("axis", 1)), 1e-3)

	// Block 3: soft RGB histogram, 8 bins per channel, Hellinger-mapped and
	// centred on the uniform histogram.
	const bins = 8
	r := g.Op("Reshape", x, g.Ints([]int64{4}, []int64{0, 3, 1, s * s}))
	centres := make([]float32, bins)
	for i := range centres {
		centres[i] = (float32(i) + 0.5) / bins
	}
	d := g.Op("Sub", r, g.Floats([]int64{1, 1, bins, 1}, centres))
	sigma := float32(1.0 / bins)
	e := g.Op("Exp", g.Op("Mul", g.Op("Mul", d, d), g.Scalar(-1/(sigma*sigma))))
	h := g.Node("ReduceMean", []string{e}, onnxgraph.AInts("axes", 3), onnxgraph.AInt("keepdims", 0)) // [B,3,bins]
	hl1 := g.Node("ReduceL1", []string{h}, onnxgraph.AInts("axes", 2), onnxgraph.AInt("keepdims", 1))
	hn := g.Op("Div", h, g.Op("Max", hl1, g.Scalar(1e-12)))
	hs := g.Op("Sub", g.Op("Sqrt", hn), g.Scalar(float32(math.Sqrt(1.0/bins))))
	b3 := l2norm(g, g.Node("Flatten", []string{hs}, onnxgraph.AInt("axis", 1)), 1e-6)

	// Block 4: edge orientations from Sobel gradients of luma, binned on the
	// doubled angle (orientation modulo π) without atan2: the unit vector
	// (cos 2θ, sin 2θ) = ((gx²−gy²)/m², 2gxgy/m²) is compared with 8 fixed
	// directions by a 1×1 convolution, soft-binned with exp(κ(cos−1)) and
	// weighted by the gradient magnitude, then pooled on a 2×2 grid.
	sobel := g.Floats([]int64{2, 1, 3, 3}, []float32{
		-1, 0, 1, -2, 0, 2, -1, 0, 1,
		-1, -2, -1, 0, 0, 0, 1, 2, 1,
	})
	grad := g.Op("Conv", luma, sobel) // [B,2,s-2,s-2]
	gx, gy := "gx", "gy"
	g.NodeOut("Split", []string{grad}, []string{gx, gy}, onnxgraph.AInt("axis", 1))
	gx2, gy2 := g.Op("Mul", gx, gx), g.Op("Mul", gy, gy)
	m2 := g.Op("Add", g.Op("Add", gx2, gy2), g.Scalar(1e-6))
	mag := g.Op("Sqrt", m2)
	c2 := g.Op("Div", g.Op("Sub", gx2, gy2), m2)
	s2 := g.Op("Div", g.Op("Mul", g.Op("Mul", gx, gy), g.Scalar(2)), m2)
	cs := g.Node("Concat", []string{c2, s2}, onnxgraph.AInt("axis", 1))
	const dirs = 8
	dw := make([]float32, 0, 2*dirs)
	for k := 0; k < dirs; k++ {
		phi := 2 * math.Pi * float64(k) / dirs // doubled angle of k·π/8
		dw = append(dw, float32(math.Cos(phi)), float32(math.Sin(phi)))
	}
	sim := g.Op("Conv", cs, g.Floats([]int64{dirs, 2, 1, 1}, dw))
	const kappa = 4
	soft := g.Op("Exp", g.Op("Mul", g.Op("Sub", sim, g.Scalar(1)), g.Scalar(kappa)))
	weighted := g.Op("Mul", soft, mag)
	half := int64((s - 2) / 2)
	ep := g.Node("AveragePool", []string{weighted}, onnxgraph.AInts("kernel_shape", half, half), onnxgraph.AInts("strides", half, half))
	b4 := l2norm(g, g.Node("Flatten", []string{ep}, onnxgraph.AInt("axis", 1)), 1e-6)

	all := g.Node("Concat", []string{b1, b2, b3, b4}, onnxgraph.AInt("axis", 1))
	out := l2norm(g, all, 1e-12)
	g.Output(out, "embedding", onnxgraph.Float, "batch", ImageDim)
	return g.Model(Opset, "omnirank-starter", "starter-image: colour layout, colour histogram, edge-orientation histogram")
}

func buildAudio() ([]byte, error) {
	const (
		frame = 512
		step  = 160
	)
	g := onnxgraph.New(AudioName)
	w := g.Input("waveform", onnxgraph.Float, "batch", "samples")
	sig := g.Op("Unsqueeze", w, g.Ints([]int64{1}, []int64{2})) // [B,T,1]
	win := g.Node("HannWindow", []string{g.IntScalar(frame)}, onnxgraph.AInt("periodic", 1))
	spec := g.Node("STFT", []string{sig, g.IntScalar(step), win, g.IntScalar(frame)}, onnxgraph.AInt("onesided", 1)) // [B,F,257,2]
	power := g.Node("ReduceSumSquare", []string{spec}, onnxgraph.AInts("axes", 3), onnxgraph.AInt("keepdims", 0))    // [B,F,257]
	melW := g.Node("MelWeightMatrix", []string{
		g.IntScalar(AudioMels), g.IntScalar(frame), g.IntScalar(AudioSampleRate), g.Scalar(60), g.Scalar(7800),
	})
	mel := g.Op("MatMul", power, melW) // [B,F,64]
	rawLog := g.Op("Log", g.Op("Add", mel, g.Scalar(1e-10)))
	// Dynamic-range floor relative to the window's loudest bin (like
	// librosa's top_db): quiet bins read the same whether they hold
	// silence or faint noise, and the floor moves with the gain.
	peak := g.Node("ReduceMax", []string{rawLog}, onnxgraph.AInts("axes", 1, 2), onnxgraph.AInt("keepdims", 1))
	logmel := g.Op("Max", rawLog, g.Op("Sub", peak, g.Scalar(float32(AudioTopDB*math.Ln10/10))))

	mu := g.Node("ReduceMean", []string{logmel}, onnxgraph.AInts("axes", 1), onnxgraph.AInt("keepdims", 1)) // [B,1,M]
	dev := g.Op("Sub", logmel, mu)
	sd := g.Op("Sqrt", g.Op("Add", g.Node("ReduceMean", []string{g.Op("Mul", dev, dev)}, onnxgraph.AInts("axes", 1), onnxgraph.AInt("keepdims", 0)), g.Scalar(1e-6)))
	mean2 := g.Op("Squeeze", mu, g.Ints([]int64{1}, []int64{1})) // [B,M]

	big := int64(1 << 30)
	next := g.Op("Slice", logmel, g.Ints([]int64{1}, []int64{1}), g.Ints([]int64{1}, []int64{big}), g.Ints([]int64{1}, []int64{1}))
	prev := g.Op("Slice", logmel, g.Ints([]int64{1}, []int64{0}), g.Ints([]int64{1}, []int64{-1}), g.Ints([]int64{1}, []int64{1}))
	delta := g.Op("Sub", next, prev)
	dsd := g.Op("Sqrt", g.Op("Add", g.Node("ReduceMean", []string{g.Op("Mul", delta, delta)}, onnxgraph.AInts("axes", 1), onnxgraph.AInt("keepdims", 0)), g.Scalar(1e-6)))

	b1 := l2norm(g, centre(g, mean2), 1e-6)
	b2 := l2norm(g, centre(g, sd), 1e-6)
	b3 := l2norm(g, centre(g, dsd), 1e-6)
	all := g.Node("Concat", []string{b1, b2, b3}, onnxgraph.AInt("axis", 1))
	out := l2norm(g, all, 1e-12)
	g.Output(out, "embedding", onnxgraph.Float, "batch", AudioDim)
	return g.Model(Opset, "omnirank-starter", "starter-audio: log-mel statistics")
}
