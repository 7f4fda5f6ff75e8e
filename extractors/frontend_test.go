package extractors_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/internal/onnxgraph"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/preprocess"
)

// Two-stage test model: the frontend makes 2 bins per block of
// frontBlock samples (block mean and block mean square); the main model
// projects each window of testFrames frames with the fixed matrix
// projection.
const (
	frontBlock = 100
	testFrames = 10
	testHop    = 5
	testDim    = 3
	inScale    = 2
	outScale   = 0.5
	outOffset  = 1
)

func projection(i, d int) float32 { return float32(math.Sin(float64(7*i + 3*d + 1))) }

func twoStageFolder(t *testing.T, layout string) string {
	t.Helper()
	fg := onnxgraph.New("front")
	w := fg.Input("wave", onnxgraph.Float, 1, "samples")
	x := fg.Op("Unsqueeze", w, fg.Ints([]int64{1}, []int64{1})) // [1,1,T]
	pool := func(v string) string {
		return fg.Node("AveragePool", []string{v}, onnxgraph.AInts("kernel_shape", frontBlock), onnxgraph.AInts("strides", frontBlock))
	}
	both := fg.Node("Concat", []string{pool(x), pool(fg.Op("Mul", x, x))}, onnxgraph.AInt("axis", 1)) // [1,2,F]
	fr := fg.Node("Transpose", []string{both}, onnxgraph.AInts("perm", 0, 2, 1))                      // [1,F,2]
	fg.Output(fr, "frames", onnxgraph.Float, 1, "frames", 2)
	front, err := fg.Model(17, "omnirank-test", "two-stage test frontend")
	if err != nil {
		t.Fatal(err)
	}

	mg := onnxgraph.New("main")
	dims := map[string][]onnxgraph.Dim{"BFM": {"batch", testFrames, 2}, "BFM1": {"batch", testFrames, 2, 1}, "B1FM": {"batch", 1, testFrames, 2}}[layout]
	in := mg.Input("feats", onnxgraph.Float, dims...)
	flat := mg.Node("Flatten", []string{in}, onnxgraph.AInt("axis", 1)) // [B,2F]
	wts := make([]float32, 0, 2*testFrames*testDim)
	for i := 0; i < 2*testFrames; i++ {
		for d := 0; d < testDim; d++ {
			wts = append(wts, projection(i, d))
		}
	}
	out := mg.Op("MatMul", flat, mg.Floats([]int64{2 * testFrames, testDim}, wts))
	mg.Output(out, "emb", onnxgraph.Float, "batch", testDim)
	model, err := mg.Model(17, "omnirank-test", "two-stage test model")
	if err != nil {
		t.Fatal(err)
	}
	man := manifest.Manifest{
		Name: "two-stage-" + map[string]string{"BFM": "a", "BFM1": "b", "B1FM": "c"}[layout], Version: "1", Modality: "audio", Licence: "Apache-2.0",
		Inputs:  []manifest.Input{{Name: "feats", Role: manifest.RoleAudioFeatures, Layout: layout}},
		Outputs: []manifest.Output{{Name: "emb", Pooling: manifest.PoolNone}},
		Dim:     testDim,
		Preprocess: manifest.Preprocessing{Audio: &manifest.AudioPre{SampleRate: 16000, Input: manifest.AudioInputFrontend, MaxWindows: 6,
			Frontend: &manifest.AudioFrontend{Model: "front.onnx", Input: "wave", Output: "frames", InputScale: inScale,
				OutputScale: outScale, OutputOffset: outOffset, Bins: 2, Frames: testFrames, FrameHop: testHop}}},
	}
	mb, err := man.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"model.onnx": model, "front.onnx": front, "manifest.json": mb} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// wantTwoStage computes the test model's embedding in Go, following the
// frontend contract: short clips repeated, windows every testHop frames
// plus an end-aligned one, thinned to maxWindows, averaged, normalised.
func wantTwoStage(samples []float32, maxWindows int) []float64 {
	wave := make([]float64, len(samples))
	for i, s := range samples {
		wave[i] = float64(s) * inScale
	}
	for len(wave)/frontBlock < testFrames {
		wave = append(wave, wave...)
	}
	n := len(wave) / frontBlock
	frames := make([][2]float64, n)
	for f := range frames {
		var s, ss float64
		for _, x := range wave[f*frontBlock : (f+1)*frontBlock] {
			s += x
			ss += x * x
		}
		frames[f] = [2]float64{s/frontBlock*outScale + outOffset, ss/frontBlock*outScale + outOffset}
	}
	var starts []int
	for s := 0; s+testFrames <= n; s += testHop {
		starts = append(starts, s)
	}
	if last := starts[len(starts)-1]; n-(last+testFrames) >= (testHop+1)/2 {
		starts = append(starts, n-testFrames)
	}
	if len(starts) > maxWindows {
		thin := make([]int, maxWindows)
		for i := range thin {
			thin[i] = starts[i*(len(starts)-1)/(maxWindows-1)]
		}
		starts = thin
	}
	v := make([]float64, testDim)
	for _, s := range starts {
		for f := 0; f < testFrames; f++ {
			for b := 0; b < 2; b++ {
				for d := range v {
					v[d] += frames[s+f][b] * float64(projection(2*f+b, d))
				}
			}
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	for d := range v {
		v[d] /= math.Sqrt(norm)
	}
	return v
}

func TestTwoStageAudioModel(t *testing.T) {
	ctx := context.Background()
	st, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st, extractors.WithSession(ort.WithIntraOpThreads(1)), extractors.WithBatching(batch.WithMaxBatch(4)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := reg.Close(); err != nil {
			t.Error(err)
		}
	}()
	clips := []struct {
		name    string
		samples []float32
	}{
		{"2 s", clip(1, 2, 16000)},
		{"50 ms, repeated to fill a window", clip(2, 0.05, 16000)},
		{"9 s, thinned", clip(3, 9, 16000)},
	}
	inputs := make([][]byte, len(clips))
	for i, c := range clips {
		inputs[i] = wav(c.samples, 16000)
	}
	for _, layout := range []string{"BFM", "BFM1", "B1FM"} {
		t.Run(layout, func(t *testing.T) {
			man, err := reg.Register(ctx, twoStageFolder(t, layout))
			if err != nil {
				t.Fatal(err)
			}
			if keys, err := st.List(ctx, man.Prefix()+"front.onnx"); err != nil || len(keys) != 1 {
				t.Fatalf("frontend not uploaded: %v %v", keys, err)
			}
			enc, err := reg.Encoder(ctx, man.ID())
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			got, err := enc.Encode(ctx, inputs)
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range clips {
				// The encoder sees the WAV's 16-bit samples.
				dec, err := preprocess.DecodeAudio(inputs[i], preprocess.AudioSpec{SampleRate: 16000})
				if err != nil {
					t.Fatal(err)
				}
				want := wantTwoStage(dec, 6)
				for d := range want {
					if math.Abs(float64(got[i][d])-want[d]) > 1e-4 {
						t.Fatalf("%s: got %v, want %v", c.name, got[i], want)
					}
				}
			}
			_, err = enc.Encode(ctx, [][]byte{inputs[0], wav(make([]float32, 8000), 16000)})
			if !errors.Is(err, extractors.ErrBadInput) {
				t.Fatalf("silent clip: err = %v, want ErrBadInput", err)
			}
		})
	}
	dir := twoStageFolder(t, "BFM")
	if err := os.Remove(filepath.Join(dir, "front.onnx")); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, dir); !errors.Is(err, extractors.ErrInvalidModel) {
		t.Fatalf("missing frontend: err = %v, want ErrInvalidModel", err)
	}
}
