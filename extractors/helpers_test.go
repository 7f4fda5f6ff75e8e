package extractors_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/ort"
)

// sharedStore holds the starter models, built once per test binary.
var sharedStore struct {
	once sync.Once
	dir  string
	err  error
}

func starterStore(t testing.TB) *extractors.DirStore {
	t.Helper()
	sharedStore.once.Do(func() {
		dir, err := tempDir()
		if err != nil {
			sharedStore.err = err
			return
		}
		sharedStore.dir = dir
		st, err := extractors.NewDirStore(dir)
		if err != nil {
			sharedStore.err = err
			return
		}
		reg, err := extractors.NewRegistry(st)
		if err != nil {
			sharedStore.err = err
			return
		}
		_, sharedStore.err = reg.EnsureStarter(context.Background())
		if cerr := reg.Close(); sharedStore.err == nil {
			sharedStore.err = cerr
		}
	})
	if sharedStore.err != nil {
		t.Fatal(sharedStore.err)
	}
	st, err := extractors.NewDirStore(sharedStore.dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newRegistry(t testing.TB, opts ...extractors.Option) *extractors.Registry {
	t.Helper()
	// One intra-op thread: the test machines are small and shared, and
	// spinning ORT pool threads only compete with the test itself.
	opts = append([]extractors.Option{extractors.WithSession(ort.WithIntraOpThreads(1))}, opts...)
	reg, err := extractors.NewRegistry(starterStore(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := reg.Close(); err != nil {
			t.Error(err)
		}
	})
	return reg
}

func defaultEncoder(t testing.TB, reg *extractors.Registry, m extractors.Modality) extractors.Encoder {
	t.Helper()
	enc, err := reg.Default(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = enc.Close() })
	return enc
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// nearest returns the index of the corpus vector closest to q.
func nearest(q []float32, corpus [][]float32) (int, float64) {
	best, bestSim := -1, math.Inf(-1)
	for i, c := range corpus {
		if s := dot(q, c); s > bestSim {
			best, bestSim = i, s
		}
	}
	return best, bestSim
}

func checkUnit(t testing.TB, vecs [][]float32, dim int) {
	t.Helper()
	for i, v := range vecs {
		if len(v) != dim {
			t.Fatalf("vector %d has %d dims, want %d", i, len(v), dim)
		}
		n := math.Sqrt(dot(v, v))
		if math.Abs(n-1) > 1e-4 {
			t.Fatalf("vector %d has norm %v", i, n)
		}
	}
}

// picture draws a procedural product-like picture: a background gradient
// and a few shapes, all chosen by seed.
func picture(seed uint64, w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(seed, 99))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	c0 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	c1 := [3]float64{r.Float64() * 255, r.Float64() * 255, r.Float64() * 255}
	vertical := r.IntN(2) == 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := float64(x) / float64(w)
			if vertical {
				t = float64(y) / float64(h)
			}
			set(img, x, y, color.NRGBA{uint8(c0[0]*(1-t) + c1[0]*t), uint8(c0[1]*(1-t) + c1[1]*t), uint8(c0[2]*(1-t) + c1[2]*t), 255})
		}
	}
	shapes := 2 + r.IntN(4)
	for s := 0; s < shapes; s++ {
		col := color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		cx, cy := r.Float64()*float64(w), r.Float64()*float64(h)
		rad := (0.1 + 0.25*r.Float64()) * float64(min(w, h))
		kind := r.IntN(3)
		stripes := 4 + r.IntN(12)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dx, dy := float64(x)-cx, float64(y)-cy
				in := false
				switch kind {
				case 0:
					in = dx*dx+dy*dy < rad*rad
				case 1:
					in = math.Abs(dx) < rad && math.Abs(dy) < rad*0.6
				case 2: // striped disc
					in = dx*dx+dy*dy < rad*rad && int((dx+dy+1000)/float64(stripes))%2 == 0
				}
				if in {
					set(img, x, y, col)
				}
			}
		}
	}
	return img
}

// set writes one pixel straight into Pix (SetNRGBA is slow under -race).
func set(img *image.NRGBA, x, y int, c color.NRGBA) {
	i := y*img.Stride + 4*x
	img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// wav encodes mono float samples as 16-bit PCM WAV.
func wav(samples []float32, rate int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*len(samples)))
	b.WriteString("WAVEfmt ")
	_ = binary.Write(&b, le, uint32(16))
	_ = binary.Write(&b, le, uint16(1))
	_ = binary.Write(&b, le, uint16(1))
	_ = binary.Write(&b, le, uint32(rate))
	_ = binary.Write(&b, le, uint32(2*rate))
	_ = binary.Write(&b, le, uint16(2))
	_ = binary.Write(&b, le, uint16(16))
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(2*len(samples)))
	for _, s := range samples {
		v := math.Max(-1, math.Min(1, float64(s)))
		_ = binary.Write(&b, le, int16(v*32767))
	}
	return b.Bytes()
}

// clip synthesises a seeded sound: a mix of tones, chirps, AM and noise
// bursts of the given length.
func clip(seed uint64, seconds float64, rate int) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	n := int(seconds * float64(rate))
	out := make([]float32, n)
	parts := 1 + r.IntN(3)
	for p := 0; p < parts; p++ {
		kind := r.IntN(4)
		f0 := 100 + r.Float64()*3000
		f1 := 100 + r.Float64()*3000
		amp := 0.1 + 0.25*r.Float64()
		am := 1 + r.Float64()*8
		burst := 0.05 + 0.3*r.Float64()
		period := 0.2 + 0.5*r.Float64()
		phase := 0.0
		for i := range out {
			t := float64(i) / float64(rate)
			var v float64
			switch kind {
			case 0: // tone with harmonics
				v = math.Sin(2*math.Pi*f0*t) + 0.5*math.Sin(4*math.Pi*f0*t)
			case 1: // chirp
				f := f0 + (f1-f0)*t/seconds
				phase += 2 * math.Pi * f / float64(rate)
				v = math.Sin(phase)
			case 2: // amplitude-modulated tone
				v = math.Sin(2*math.Pi*f0*t) * (0.5 + 0.5*math.Sin(2*math.Pi*am*t))
			case 3: // noise bursts
				if math.Mod(t, period) < burst {
					v = r.NormFloat64() * 0.7
				}
			}
			out[i] += float32(amp * v)
		}
	}
	return out
}

// degrade changes the gain and adds white noise at snrDB.
func degrade(seed uint64, s []float32, gain, snrDB float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 13))
	var p float64
	for _, x := range s {
		p += float64(x) * float64(x)
	}
	p /= float64(len(s))
	sigma := math.Sqrt(p/math.Pow(10, snrDB/10)) * gain
	out := make([]float32, len(s))
	for i, x := range s {
		out[i] = float32(float64(x)*gain + r.NormFloat64()*sigma)
	}
	return out
}
