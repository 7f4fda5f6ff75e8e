package openwakeword_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/internal/openwakeword"
)

func TestManifestValidates(t *testing.T) {
	m := openwakeword.Manifest()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := manifest.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Licence != openwakeword.Licence || back.Dim != openwakeword.Dim {
		t.Fatalf("round trip: %+v", back)
	}
	if got := back.ExtraFiles(); len(got) != 1 || got[0] != openwakeword.FrontendFile {
		t.Fatalf("extra files %v", got)
	}
}

// TestDocsExampleMatches: the manifest shown in docs/MODELS.md is the one
// FetchOpenWakeWord writes (descriptions aside).
func TestDocsExampleMatches(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "MODELS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(string(b), "```json\n")[1:] {
		block, _, _ := strings.Cut(p, "```")
		if !strings.Contains(block, `"name": "openwakeword"`) {
			continue
		}
		doc, err := manifest.Parse([]byte(block))
		if err != nil {
			t.Fatal(err)
		}
		want := openwakeword.Manifest()
		doc.Description, want.Description = "", ""
		if !reflect.DeepEqual(doc, want) {
			t.Fatalf("docs example differs:\n%+v\nwant\n%+v", doc, want)
		}
		return
	}
	t.Fatal("docs/MODELS.md has no openwakeword manifest")
}

func TestFetchNeedsLicence(t *testing.T) {
	dir := t.TempDir()
	_, err := openwakeword.FetchOpenWakeWord(context.Background(), dir, false)
	if !errors.Is(err, openwakeword.ErrLicenceNotAccepted) {
		t.Fatalf("err = %v, want ErrLicenceNotAccepted", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused fetch wrote %d entries", len(entries))
	}
}

// TestSpeechNearDuplicates fetches the real models (npm) and encodes
// espeak-ng speech: each clip with added noise and a gain change must be
// nearest to its own original among all the clean clips.
func TestSpeechNearDuplicates(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches 17 MB with npm")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not installed")
	}
	espeak := "/usr/bin/espeak-ng"
	if _, err := os.Stat(espeak); err != nil {
		t.Skip("espeak-ng not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := openwakeword.FetchOpenWakeWord(ctx, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	st, err := extractors.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := extractors.NewRegistry(st)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := reg.Close(); err != nil {
			t.Error(err)
		}
	}()
	man, err := reg.Register(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := reg.Encoder(ctx, man.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if enc.Dim() != openwakeword.Dim {
		t.Fatalf("dim %d", enc.Dim())
	}

	phrases := []string{
		"wireless headphones with noise cancelling",
		"a red leather handbag",
		"stainless steel chef knife",
		"organic green tea, fifty bags",
		"hey, turn on the kitchen lights",
		"seven",
		"children's wooden building blocks",
	}
	clean := make([][]byte, len(phrases))
	noisy := make([][]byte, len(phrases))
	for i, p := range phrases {
		out := filepath.Join(t.TempDir(), "say.wav")
		// Different voices make the task about the words, not the speaker.
		voice := []string{"en-us", "en", "en-us+f3"}[i%3]
		if b, err := exec.CommandContext(ctx, espeak, "-v", voice, "-w", out, p).CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng %q: %v: %s", p, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		s, err := preprocess.DecodeAudio(b, preprocess.AudioSpec{SampleRate: 16000})
		if err != nil {
			t.Fatal(err)
		}
		clean[i] = wav16k(s)
		noisy[i] = wav16k(degrade(uint64(i), s, 0.6, 20))
	}
	cv, err := enc.Encode(ctx, clean)
	if err != nil {
		t.Fatal(err)
	}
	nv, err := enc.Encode(ctx, noisy)
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range nv {
		best, bestSim, own := -1, -2.0, 0.0
		for j, c := range cv {
			s := dot(q, c)
			if j == i {
				own = s
			}
			if s > bestSim {
				best, bestSim = j, s
			}
		}
		t.Logf("%q + noise: cosine to own clean clip %.3f, best %d (%.3f)", phrases[i], own, best, bestSim)
		if best != i {
			t.Errorf("%q with noise is nearest to %q (%.3f), not its original (%.3f)", phrases[i], phrases[best], bestSim, own)
		}
	}
	// A silent clip is bad input, named by index.
	if _, err := enc.Encode(ctx, [][]byte{clean[0], wav16k(make([]float32, 16000))}); !errors.Is(err, extractors.ErrBadInput) {
		t.Fatalf("silence: err = %v, want ErrBadInput", err)
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// degrade scales s by gain and adds white noise at snrDB below the signal.
func degrade(seed uint64, s []float32, gain, snrDB float64) []float32 {
	var p float64
	for _, x := range s {
		p += float64(x) * float64(x)
	}
	sigma := math.Sqrt(p/float64(len(s))/math.Pow(10, snrDB/10)) * gain
	r := rand.New(rand.NewPCG(seed, 99))
	out := make([]float32, len(s))
	for i, x := range s {
		out[i] = float32(gain*float64(x) + sigma*r.NormFloat64())
	}
	return out
}

// wav16k encodes samples in [-1,1] as 16 kHz 16-bit mono WAV.
func wav16k(s []float32) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*len(s)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(16000), uint32(32000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(2*len(s)))
	for _, x := range s {
		_ = binary.Write(&b, le, int16(max(-1, min(1, x))*32767))
	}
	return b.Bytes()
}
