package preprocess

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/disintegration/imaging"
	xdraw "golang.org/x/image/draw"
)

// benchPhoto is a 1000×1000 picture with smooth gradients, edges and noise,
// closer to a product photo than flat colour or pure noise.
func benchPhoto() *image.NRGBA { return benchPhotoSize(1000, 1000) }

// benchPhotoSize is benchPhoto's picture drawn at w×h, with eight
// checkerboard squares across.
func benchPhotoSize(w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(17, 18))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			v := 0.5 + 0.4*math.Sin(6*fx+3*fy)
			if (8*x/w+8*y/h)%2 == 0 {
				v = 1 - v
			}
			n := r.Float64() * 20
			img.Pix[i] = uint8(200*v + n)
			img.Pix[i+1] = uint8(180*fy + n)
			img.Pix[i+2] = uint8(180*fx + n)
			img.Pix[i+3] = 255
		}
	}
	return img
}

func BenchmarkImageTensor(b *testing.B) {
	var png512 bytes.Buffer
	if err := png.Encode(&png512, benchPhotoSize(512, 512)); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		jpg    []byte
		filter string
		size   int
	}{
		{"png512-to-64-linear", png512.Bytes(), "linear", 64},
		{"png512-to-224-linear", png512.Bytes(), "linear", 224},
		{"jpeg1000-to-224-linear", encodeJPEG(b, benchPhoto(), 90), "linear", 224},
		{"jpeg1000-to-224-lanczos", encodeJPEG(b, benchPhoto(), 90), "lanczos", 224},
		{"jpeg512-to-224-linear", encodeJPEG(b, benchPhotoSize(512, 512), 90), "linear", 224},
	} {
		jpg, filter, size := c.jpg, c.filter, c.size
		if size == 0 {
			size = 224
		}
		b.Run(c.name, func(b *testing.B) {
			spec := clipSpec
			spec.Size, spec.Filter = size, filter
			dst := make([]float32, 3*size*size)
			b.SetBytes(int64(len(jpg)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = ImageTensor(jpg, spec, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeAudio(b *testing.B) {
	// 5 s of 44.1 kHz 16-bit stereo → 16 kHz mono.
	wavData, _ := makeWAV(b, wavSpec{wavPCM, 16, 44100, false}, tone(5*44100, 2, 44100, 440, 0.5))
	b.Run("wav-5s-44k1-stereo-to-16k", func(b *testing.B) {
		b.SetBytes(int64(len(wavData)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeAudio(wavData, AudioSpec{SampleRate: 16000}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkResample(b *testing.B) {
	for _, rates := range [][2]int{{44100, 16000}, {48000, 16000}, {8000, 16000}} {
		r, err := NewResampler(rates[0], rates[1])
		if err != nil {
			b.Fatal(err)
		}
		in := sine32(5*rates[0], rates[0], 440, 0.5)
		b.Run("5s-"+strconv.Itoa(rates[0])+"-to-"+strconv.Itoa(rates[1]), func(b *testing.B) {
			for b.Loop() {
				_ = r.Resample(in)
			}
		})
	}
	for _, rates := range [][2]int{{44100, 16000}, {44101, 16000}} {
		b.Run("build-filter-"+strconv.Itoa(rates[0])+"-to-"+strconv.Itoa(rates[1]), func(b *testing.B) {
			for b.Loop() {
				if _, err := NewResampler(rates[0], rates[1]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPreShrink(b *testing.B) {
	src := benchPhotoSize(512, 512)
	for _, c := range []struct {
		name string
		img  image.Image
	}{{"nrgba512-to-64", src}, {"rgba512-to-64", toRGBA(src)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if preShrink(c.img, 64) == c.img {
					b.Fatal("not shrunk")
				}
			}
		})
	}
}

// BenchmarkResize compares imaging.Resize, resizeSeparable (ours) and
// golang.org/x/image/draw's bilinear scalers (BiLinear: the true filter,
// stretched when shrinking; ApproxBiLinear: four nearest pixels, no
// stretching, so it aliases when shrinking) on the sources the JPEG and
// PNG paths hand to the resize step. x/image/draw writes *image.RGBA (its
// fast path).
func BenchmarkResize(b *testing.B) {
	srcs := []struct {
		name string
		img  image.Image
		size int
	}{
		{"nrgba250-to-224", benchPhotoSize(250, 250), 224},
		{"ycbcr250-to-224", toYCbCr(benchPhotoSize(250, 250), image.YCbCrSubsampleRatio420), 224},
		{"nrgba128-to-64", benchPhotoSize(128, 128), 64},
		{"ycbcr1000-to-224", toYCbCr(benchPhotoSize(1000, 1000), image.YCbCrSubsampleRatio420), 224},
	}
	for _, src := range srcs {
		for _, way := range []struct {
			name   string
			resize func(image.Image, int) bool
		}{
			{"imaging", func(img image.Image, n int) bool { return imaging.Resize(img, n, n, imaging.Linear) != nil }},
			{"separable", func(img image.Image, n int) bool { _, ok := resizeSeparable(img, n, n, imaging.Linear); return ok }},
			{"xdraw-bilinear", func(img image.Image, n int) bool {
				dst := image.NewRGBA(image.Rect(0, 0, n, n))
				xdraw.BiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), xdraw.Src, nil)
				return true
			}},
			{"xdraw-approxbilinear", func(img image.Image, n int) bool {
				dst := image.NewRGBA(image.Rect(0, 0, n, n))
				xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), xdraw.Src, nil)
				return true
			}},
		} {
			b.Run(src.name+"/"+way.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !way.resize(src.img, src.size) {
						b.Fatal("declined")
					}
				}
			})
		}
	}
}
