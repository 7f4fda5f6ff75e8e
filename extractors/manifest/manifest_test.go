package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/extractors/manifest"
)

func text() manifest.Manifest {
	return manifest.Manifest{
		Name: "bert-mini", Version: "2", Modality: "text", Licence: "Apache-2.0",
		Inputs: []manifest.Input{
			{Name: "input_ids", Role: manifest.RoleInputIDs},
			{Name: "attention_mask", Role: manifest.RoleAttentionMask},
		},
		Outputs:    []manifest.Output{{Name: "last_hidden_state", Pooling: manifest.PoolMean}},
		Dim:        256,
		Preprocess: manifest.Preprocessing{Text: &manifest.TextPre{Tokenizer: manifest.TokenizerWordPiece, Vocab: "vocab.txt", MaxLength: 128, Lowercase: true, Stride: 32}},
	}
}

// wordnetText is a starter-wordnet model (starter-text@2's shape).
func wordnetText() manifest.Manifest {
	return manifest.Manifest{
		Name: "starter-text", Version: "2", Modality: "text", Licence: "Apache-2.0 AND WordNet-3.0",
		Inputs: []manifest.Input{
			{Name: "ids", Role: manifest.RoleHashIDs, Layout: "BL"},
			{Name: "weights", Role: manifest.RoleHashWeights, Layout: "BL"},
		},
		Outputs: []manifest.Output{{Name: "embedding", Pooling: manifest.PoolNone}},
		Dim:     384,
		Preprocess: manifest.Preprocessing{Text: &manifest.TextPre{Tokenizer: manifest.TokenizerStarterWordNet,
			Vocab: "wordnet-vocab.txt", MaxLength: 512, Lowercase: true, Buckets: 1 << 16}},
	}
}

func image() manifest.Manifest {
	return manifest.Manifest{
		Name: "clip-vit", Version: "1", Modality: "image", Licence: "MIT",
		Inputs:  []manifest.Input{{Name: "pixel_values", Role: manifest.RolePixels, Layout: "NCHW"}},
		Outputs: []manifest.Output{{Name: "image_embeds", Pooling: manifest.PoolNone}},
		Dim:     512,
		Preprocess: manifest.Preprocessing{Image: &manifest.ImagePre{Size: 224, Resize: manifest.ResizeCenterCrop,
			Mean: [3]float32{0.48, 0.46, 0.41}, Std: [3]float32{0.27, 0.26, 0.28}, Scale: 1.0 / 255}},
	}
}

func audio() manifest.Manifest {
	return manifest.Manifest{
		Name: "audio-enc", Version: "1", Modality: "audio", Licence: "MIT",
		Inputs:     []manifest.Input{{Name: "waveform", Role: manifest.RoleWaveform}},
		Outputs:    []manifest.Output{{Name: "embedding", Pooling: manifest.PoolNone}},
		Dim:        128,
		Preprocess: manifest.Preprocessing{Audio: &manifest.AudioPre{SampleRate: 16000, WindowSeconds: 1, HopSeconds: 0.5, Input: "waveform"}},
	}
}

// twoStage is an audio model with a frontend graph (openWakeWord-like).
func twoStage() manifest.Manifest {
	return manifest.Manifest{
		Name: "speech", Version: "1", Modality: "audio", Licence: "CC-BY-NC-SA-4.0",
		Inputs:  []manifest.Input{{Name: "input_1", Role: manifest.RoleAudioFeatures, Layout: "BFM1"}},
		Outputs: []manifest.Output{{Name: "conv2d_19", Pooling: manifest.PoolNone}},
		Dim:     96,
		Preprocess: manifest.Preprocessing{Audio: &manifest.AudioPre{SampleRate: 16000, Input: manifest.AudioInputFrontend,
			Frontend: &manifest.AudioFrontend{Model: "mel.onnx", Input: "input", Output: "output", InputScale: 32768,
				OutputScale: 0.1, OutputOffset: 2, Bins: 32, Frames: 76, FrameHop: 8}}},
	}
}

func TestExtraFiles(t *testing.T) {
	for _, c := range []struct {
		m    manifest.Manifest
		want string
	}{{text(), "vocab.txt"}, {wordnetText(), "wordnet-vocab.txt"}, {image(), ""}, {audio(), ""}, {twoStage(), "mel.onnx"}} {
		if got := strings.Join(c.m.ExtraFiles(), ","); got != c.want {
			t.Errorf("%s: extra files %q, want %q", c.m.ID(), got, c.want)
		}
	}
}

func TestValidManifestsRoundTrip(t *testing.T) {
	for _, m := range []manifest.Manifest{text(), wordnetText(), image(), audio(), twoStage()} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatalf("%s: %v", m.ID(), err)
		}
		back, err := manifest.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", m.ID(), err)
		}
		if back.ID() != m.ID() || back.Dim != m.Dim || back.Prefix() != "models/"+m.Name+"/"+m.Version+"/" {
			t.Fatalf("round trip of %s gave %+v", m.ID(), back)
		}
	}
	if a := audio().Preprocess.Audio; a.WindowSamples() != 16000 || a.HopSamples() != 8000 {
		t.Fatalf("window %d hop %d", a.WindowSamples(), a.HopSamples())
	}
}

func TestInvalidManifests(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*manifest.Manifest)
		base   func() manifest.Manifest
		says   string
	}{
		{"bad name", func(m *manifest.Manifest) { m.Name = "Bad Name" }, text, "name"},
		{"path in version", func(m *manifest.Manifest) { m.Version = "../x" }, text, "version"},
		{"modality", func(m *manifest.Manifest) { m.Modality = "video" }, text, "modality"},
		{"licence", func(m *manifest.Manifest) { m.Licence = "" }, text, "licence"},
		{"dim", func(m *manifest.Manifest) { m.Dim = 0 }, text, "dim"},
		{"no inputs", func(m *manifest.Manifest) { m.Inputs = nil }, text, "input"},
		{"dup input", func(m *manifest.Manifest) { m.Inputs[1].Name = "input_ids" }, text, "repeated"},
		{"image role in text", func(m *manifest.Manifest) { m.Inputs[1].Role = manifest.RolePixels }, text, "role"},
		{"no mask", func(m *manifest.Manifest) { m.Inputs = m.Inputs[:1] }, text, "attention_mask"},
		{"pooling", func(m *manifest.Manifest) { m.Outputs[0].Pooling = "max" }, text, "pooling"},
		{"no output", func(m *manifest.Manifest) { m.Outputs = nil }, text, "outputs"},
		{"two sections", func(m *manifest.Manifest) { m.Preprocess.Audio = audio().Preprocess.Audio }, text, "exactly one"},
		{"wrong section", func(m *manifest.Manifest) { m.Preprocess = image().Preprocess }, text, "preprocessing.text"},
		{"tokenizer", func(m *manifest.Manifest) { m.Preprocess.Text.Tokenizer = "bpe" }, text, "tokenizer"},
		{"vocab file", func(m *manifest.Manifest) { m.Preprocess.Text.Vocab = "../../etc/passwd" }, text, "vocab"},
		{"max length", func(m *manifest.Manifest) { m.Preprocess.Text.MaxLength = 1 }, text, "max_length"},
		{"stride", func(m *manifest.Manifest) { m.Preprocess.Text.Stride = 127 }, text, "stride"},
		{"wordnet buckets", func(m *manifest.Manifest) { m.Preprocess.Text.Buckets = 1000 }, wordnetText, "buckets"},
		{"wordnet vocab path", func(m *manifest.Manifest) { m.Preprocess.Text.Vocab = "../v.txt" }, wordnetText, "vocab"},
		{"wordnet no vocab", func(m *manifest.Manifest) { m.Preprocess.Text.Vocab = "" }, wordnetText, "vocab"},
		{"wordnet inputs", func(m *manifest.Manifest) { m.Inputs = m.Inputs[:1] }, wordnetText, "hash_weights"},
		{"wordnet pooling", func(m *manifest.Manifest) { m.Outputs[0].Pooling = manifest.PoolMean }, wordnetText, "pooling"},
		{"image size", func(m *manifest.Manifest) { m.Preprocess.Image.Size = 4 }, image, "size"},
		{"resize", func(m *manifest.Manifest) { m.Preprocess.Image.Resize = "fit" }, image, "resize"},
		{"std", func(m *manifest.Manifest) { m.Preprocess.Image.Std[1] = 0 }, image, "std"},
		{"scale", func(m *manifest.Manifest) { m.Preprocess.Image.Scale = 0 }, image, "scale"},
		{"image pooling", func(m *manifest.Manifest) { m.Outputs[0].Pooling = manifest.PoolMean }, image, "pooling"},
		{"sample rate", func(m *manifest.Manifest) { m.Preprocess.Audio.SampleRate = 100 }, audio, "sample_rate"},
		{"window", func(m *manifest.Manifest) { m.Preprocess.Audio.WindowSeconds = 0 }, audio, "window_seconds"},
		{"hop", func(m *manifest.Manifest) { m.Preprocess.Audio.HopSeconds = 2 }, audio, "hop_seconds"},
		{"audio form", func(m *manifest.Manifest) { m.Preprocess.Audio.Input = "logmel" }, audio, "waveform"},
		{"frontend on waveform", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend = twoStage().Preprocess.Audio.Frontend }, audio, "frontend"},
		{"waveform role on frontend", func(m *manifest.Manifest) { m.Inputs[0].Role = manifest.RoleWaveform }, twoStage, "audio_features"},
		{"features role on waveform", func(m *manifest.Manifest) { m.Inputs[0].Role = manifest.RoleAudioFeatures }, audio, "role waveform"},
		{"no frontend", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend = nil }, twoStage, "preprocessing.audio.frontend"},
		{"layout", func(m *manifest.Manifest) { m.Inputs[0].Layout = "NCHW" }, twoStage, "layout"},
		{"seconds with frontend", func(m *manifest.Manifest) { m.Preprocess.Audio.WindowSeconds = 1 }, twoStage, "frames"},
		{"frontend is model.onnx", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend.Model = "model.onnx" }, twoStage, "frontend model"},
		{"frontend path", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend.Model = "../x.onnx" }, twoStage, "frontend model"},
		{"frontend names", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend.Output = "" }, twoStage, "names"},
		{"frontend scale", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend.InputScale = 0 }, twoStage, "input_scale"},
		{"frontend hop", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend.FrameHop = 77 }, twoStage, "frame_hop"},
		{"frontend bins", func(m *manifest.Manifest) { m.Preprocess.Audio.Frontend.Bins = 0 }, twoStage, "bins"},
		{"two audio inputs", func(m *manifest.Manifest) {
			m.Inputs = append(m.Inputs, manifest.Input{Name: "w", Role: manifest.RoleWaveform})
		}, twoStage, "exactly one input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.base()
			c.mutate(&m)
			err := m.Validate()
			if !errors.Is(err, manifest.ErrInvalid) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, c.says)
			}
		})
	}
}

func TestParseRejectsBadJSON(t *testing.T) {
	for _, c := range []struct{ name, json string }{
		{"not json", "{"},
		{"unknown field", `{"name":"x","version":"1","modality":"text","colour":"red"}`},
		{"empty", `{}`},
	} {
		if _, err := manifest.Parse([]byte(c.json)); !errors.Is(err, manifest.ErrInvalid) {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}

// TestDocsExamplesParse: every ```json block of docs/MODELS.md is a valid
// manifest, so the documented examples cannot drift from the schema.
func TestDocsExamplesParse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "MODELS.md"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "```json\n")
	if len(parts) < 5 {
		t.Fatalf("docs/MODELS.md has %d json examples, want at least 4", len(parts)-1)
	}
	for i, p := range parts[1:] {
		block, _, ok := strings.Cut(p, "```")
		if !ok {
			t.Fatalf("example %d is not closed", i)
		}
		m, err := manifest.Parse([]byte(block))
		if err != nil {
			t.Errorf("example %d: %v", i, err)
			continue
		}
		t.Logf("example %d: %s (%s, dim %d)", i, m.ID(), m.Modality, m.Dim)
	}
}
