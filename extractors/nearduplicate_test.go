package extractors_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/omnirank/omnirank/extractors"
)

// Near-duplicate retrieval through the production path (registry → encoder
// → preprocessing → batcher → ONNX Runtime) with the starter models.

func TestStarterTextNearDuplicates(t *testing.T) {
	reg := newRegistry(t)
	enc := defaultEncoder(t, reg, extractors.Text)
	pairs := []struct{ a, b string }{
		{"red running shoes", "Running shoe, red"},
		{"Stainless steel chef's knife 20 cm", "chef knife stainless-steel 20cm"},
		{"Crème brûlée caramelising torch", "creme brulee torch for caramelizing"},
		{"Wireless noise-cancelling headphones, black", "black wireless headphones with noise cancelling"},
		{"Organic green tea, 100 bags", "green tea organic (100 tea bags)"},
		{"Children's wooden building blocks", "wooden blocks for children, building toy"},
	}
	distractors := []string{
		"Acoustic guitar with steel strings", "Ceramic coffee mug 350 ml", "Men's leather wallet",
		"LED desk lamp with USB port", "Yoga mat, non-slip, purple", "Cast iron frying pan 28 cm",
		"Waterproof hiking backpack 40 L", "Electric toothbrush with 3 heads", "Bluetooth smart watch",
		"Scented soy candle, lavender", "Garden hose 25 m with spray nozzle", "Mechanical keyboard, brown switches",
	}
	var corpus []string
	for _, p := range pairs {
		corpus = append(corpus, p.b)
	}
	corpus = append(corpus, distractors...)
	vecs, err := enc.Encode(context.Background(), bytesOf(corpus))
	if err != nil {
		t.Fatal(err)
	}
	checkUnit(t, vecs, enc.Dim())
	queries := make([]string, len(pairs))
	for i, p := range pairs {
		queries[i] = p.a
	}
	qv, err := enc.Encode(context.Background(), bytesOf(queries))
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range qv {
		got, sim := nearest(q, vecs)
		if got != i {
			t.Errorf("%q: nearest is %q (%.3f), want %q (%.3f)", pairs[i].a, corpus[got], sim, pairs[i].b, dot(q, vecs[i]))
		}
		t.Logf("%q ~ %q: %.3f (margin %.3f)", pairs[i].a, pairs[i].b, dot(q, vecs[i]), margin(q, vecs, i))
	}
	// Determinism: the same text gives the same vector in another batch.
	again, err := enc.Encode(context.Background(), bytesOf([]string{pairs[0].b}))
	if err != nil {
		t.Fatal(err)
	}
	if s := dot(again[0], vecs[0]); s < 0.99999 {
		t.Fatalf("same text re-encoded: cosine %v", s)
	}
}

func bytesOf(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestStarterImageNearDuplicates(t *testing.T) {
	reg := newRegistry(t)
	enc := defaultEncoder(t, reg, extractors.Image)
	const n = 24
	originals := make([]image.Image, n)
	corpus := make([][]byte, n)
	for i := range originals {
		originals[i] = picture(uint64(i+1), 240, 180)
		corpus[i] = encodePNG(t, originals[i])
	}
	vecs, err := enc.Encode(context.Background(), corpus)
	if err != nil {
		t.Fatal(err)
	}
	checkUnit(t, vecs, enc.Dim())
	// Variants: rescaled, recompressed as JPEG, slightly cropped.
	variants := make([][]byte, n)
	for i, img := range originals {
		b := img.Bounds()
		cropped := imaging.Crop(img, image.Rect(b.Dx()*3/100, b.Dy()*3/100, b.Dx()*98/100, b.Dy()*97/100))
		scaled := imaging.Resize(cropped, b.Dx()*7/10, 0, imaging.Linear)
		variants[i] = encodeJPEG(t, scaled, 70)
	}
	qv, err := enc.Encode(context.Background(), variants)
	if err != nil {
		t.Fatal(err)
	}
	worst := 1.0
	for i, q := range qv {
		got, sim := nearest(q, vecs)
		if got != i {
			t.Errorf("variant %d: nearest is %d (%.3f), own original %.3f", i, got, sim, dot(q, vecs[i]))
		}
		worst = min(worst, margin(q, vecs, i))
	}
	t.Logf("image: smallest margin between own original and best other picture: %.3f", worst)
}

func TestStarterAudioNearDuplicates(t *testing.T) {
	reg := newRegistry(t)
	enc := defaultEncoder(t, reg, extractors.Audio)
	const (
		n    = 14
		rate = 22050 // exercises resampling to the model's 16 kHz
	)
	clips := make([][]float32, n)
	corpus := make([][]byte, n)
	for i := range clips {
		clips[i] = clip(uint64(i+1), 3.0+0.25*float64(i%4), rate)
		corpus[i] = wav(clips[i], rate)
	}
	vecs, err := enc.Encode(context.Background(), corpus)
	if err != nil {
		t.Fatal(err)
	}
	checkUnit(t, vecs, enc.Dim())
	variants := make([][]byte, n)
	for i, c := range clips {
		variants[i] = wav(degrade(uint64(i+100), c, 0.45, 20), rate)
	}
	qv, err := enc.Encode(context.Background(), variants)
	if err != nil {
		t.Fatal(err)
	}
	worst := 1.0
	for i, q := range qv {
		got, sim := nearest(q, vecs)
		if got != i {
			t.Errorf("degraded clip %d: nearest is %d (%.3f), own original %.3f", i, got, sim, dot(q, vecs[i]))
		}
		worst = min(worst, margin(q, vecs, i))
	}
	t.Logf("audio: smallest margin between own original and best other clip: %.3f", worst)
}

// margin is cos(q, corpus[own]) minus the best cosine to any other item.
func margin(q []float32, corpus [][]float32, own int) float64 {
	best := -2.0
	for j, c := range corpus {
		if j != own {
			best = max(best, dot(q, c))
		}
	}
	return dot(q, corpus[own]) - best
}

func TestBadInputsNameTheirIndex(t *testing.T) {
	reg := newRegistry(t)
	ctx := context.Background()
	png := encodePNG(t, picture(1, 64, 64))
	cases := []struct {
		modality extractors.Modality
		inputs   [][]byte
		badIndex int
	}{
		{extractors.Text, [][]byte{[]byte("fine"), {0xff, 0xfe, 'x'}}, 1},
		{extractors.Text, [][]byte{[]byte("   ...  "), []byte("fine")}, 0},
		{extractors.Image, [][]byte{png, png[:len(png)/2]}, 1},
		{extractors.Image, [][]byte{[]byte("not an image at all"), png}, 0},
		{extractors.Image, [][]byte{png, png, {}}, 2},
		{extractors.Audio, [][]byte{wav(clip(1, 1, 16000), 16000), []byte("RIFF....WAVEjunk")}, 1},
		{extractors.Audio, [][]byte{wav(make([]float32, 16000), 16000)}, 0}, // silence
		{extractors.Audio, [][]byte{wav(clip(1, 1, 16000), 16000)[:30]}, 0},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%d", c.modality, c.badIndex), func(t *testing.T) {
			enc := defaultEncoder(t, reg, c.modality)
			_, err := enc.Encode(ctx, c.inputs)
			if !errors.Is(err, extractors.ErrBadInput) {
				t.Fatalf("err = %v, want ErrBadInput", err)
			}
			if want := fmt.Sprintf("input %d:", c.badIndex); !strings.Contains(err.Error(), want) {
				t.Fatalf("err %q does not name %q", err, want)
			}
		})
	}
}
