package preprocess

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// boxPlane averages a full-resolution plane over the block grid the DC
// plane uses: blocks of bw×bh pixels, edge blocks over the pixels present.
func boxPlane(pix []byte, stride, w, h, bw, bh, outW, outH int) []float64 {
	out := make([]float64, outW*outH)
	for by := 0; by < outH; by++ {
		for bx := 0; bx < outW; bx++ {
			var s, n float64
			for y := by * bh; y < min((by+1)*bh, h); y++ {
				for x := bx * bw; x < min((bx+1)*bw, w); x++ {
					s += float64(pix[y*stride+x])
					n++
				}
			}
			if n > 0 {
				out[by*outW+bx] = s / n
			}
		}
	}
	return out
}

// comparePlanes reports the mean and largest absolute difference.
func comparePlanes(dc []byte, dcStride int, want []float64, outW, outH int) (mean, worst float64) {
	for y := 0; y < outH; y++ {
		for x := 0; x < outW; x++ {
			d := math.Abs(float64(dc[y*dcStride+x]) - want[y*outW+x])
			mean += d
			worst = math.Max(worst, d)
		}
	}
	return mean / float64(outW*outH), worst
}

// texturedPhoto is a w×h picture of oblique stripes of unequal horizontal
// and vertical frequency (periods of 13 and 29 pixels) over gradients, with
// noise: strong mid-frequency content whose orientation matters, so a
// reduced decode with its coefficients transposed or mis-scaled is far from
// the box average.
func texturedPhoto(w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(21, 22))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			s := math.Sin(2 * math.Pi * (float64(x)/13 + float64(y)/29))
			n := r.Float64() * 12
			img.Pix[i] = uint8(128 + 90*s + n - 6)
			img.Pix[i+1] = uint8(40 + 160*float64(y)/float64(h) + 40*s + n)
			img.Pix[i+2] = uint8(200 - 150*float64(x)/float64(w) + n)
			img.Pix[i+3] = 255
		}
	}
	return img
}

// smoothPhoto is a w×h picture of slow gradients and a soft blob.
func smoothPhoto(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			blob := math.Exp(-((fx-0.4)*(fx-0.4) + (fy-0.6)*(fy-0.6)) * 12)
			img.Pix[i] = uint8(30 + 200*fx)
			img.Pix[i+1] = uint8(30 + 150*fy + 60*blob)
			img.Pix[i+2] = uint8(220 - 180*blob)
			img.Pix[i+3] = 255
		}
	}
	return img
}

// TestJPEGReducedIsTheBlockAverage: the reduced decode at 1/8, 1/4 and 1/2
// of each fixture (made by ImageMagick and libjpeg-turbo's cjpeg, see
// testdata/README.md) and of Go-encoded smooth and textured pictures is
// close to the (8/n)×(8/n) box average of the standard decoder's
// full-resolution planes, for every sampling and with restart intervals;
// progressive and CMYK JPEGs are refused.
//
// At 1/8 (DC only) the two differ by rounding alone. At 1/4 and 1/2 the
// scaled IDCT point-samples the low-frequency part of each block where the
// box averages all of it, so they differ where the picture has detail. The
// bounds on the mean absolute difference (0–255 units) are 1.0 for the
// fixtures and the smooth picture and 3.5 for the textured ones; the
// correct IDCT gives at most 0.72 and 2.76. Every 1/4 and 1/2 case fails
// when the IDCT is broken: coefficients transposed (2.4–6.7), taken in
// natural instead of zig-zag order (2.4–5.6), basis sampled at the 8-point
// pixel positions (3.5–6.3), or C(0) = 1 (15–31).
func TestJPEGReducedIsTheBlockAverage(t *testing.T) {
	files := []struct {
		file string
		ok   bool
	}{
		{"dc-420.jpg", true},
		{"dc-422.jpg", true},
		{"dc-444.jpg", true},
		{"dc-gray.jpg", true},
		{"dc-420-restart.jpg", true},
		{"dc-420-restart1.jpg", true},
		{"dc-progressive.jpg", false},
		{"quadrants-cmyk.jpg", false},
	}
	type input struct {
		name     string
		data     []byte
		ok       bool
		textured bool
	}
	var inputs []input
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", f.file))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{f.file, data, f.ok, false})
	}
	inputs = append(inputs,
		input{"go-smooth-420", encodeJPEG(t, smoothPhoto(203, 157), 90), true, false},
		input{"go-textured-420", encodeJPEG(t, texturedPhoto(208, 160), 90), true, true},
		input{"go-textured-gray", encodeJPEG(t, grayOf(texturedPhoto(120, 88)), 90), true, true})
	// meanTol is the largest mean absolute difference allowed.
	meanTol := func(n int, textured bool) float64 {
		switch {
		case n == 1:
			return 0.5
		case textured:
			return 3.5
		}
		return 1.0
	}
	for _, in := range inputs {
		for _, n := range []int{1, 2, 4} {
			t.Run(in.name+"/"+strconv.Itoa(n)+"of8", func(t *testing.T) {
				red, ok := decodeJPEGReduced(in.data, n)
				if ok != in.ok {
					t.Fatalf("ok = %v, want %v", ok, in.ok)
				}
				if !ok {
					return
				}
				for _, p := range reducedPlanes(t, in.data, red, n) {
					want := boxPlane(p.full, p.fullStride, p.fw, p.fh, p.bw, p.bw, p.ow, p.oh)
					mean, worst := comparePlanes(p.red, p.redStride, want, p.ow, p.oh)
					t.Logf("%s: mean abs diff %.3f, max %.2f over %dx%d", p.name, mean, worst, p.ow, p.oh)
					if tol := meanTol(n, in.textured); mean > tol {
						t.Errorf("%s plane: mean abs diff %.3f (max %.2f) vs the %dx%d block average, over %.1f",
							p.name, mean, worst, p.bw, p.bw, tol)
					}
					// Only rounding (of each pixel by the standard decoder,
					// of the DC level here) separates the two at 1/8.
					if n == 1 && worst > 1.5 {
						t.Errorf("%s plane: max abs diff %.2f vs the 8x8 block average", p.name, worst)
					}
				}
			})
		}
	}
}

// grayOf converts to an 8-bit grey image (encoded as a one-component JPEG).
func grayOf(src image.Image) *image.Gray {
	b := src.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Set(x, y, src.At(x, y))
		}
	}
	return g
}

// planePair is one plane of a reduced decode and the same plane of the full
// decode, with the box size bw (= 8/n) that maps one to the other.
type planePair struct {
	name       string
	red        []byte
	redStride  int
	full       []byte
	fullStride int
	fw, fh, bw int // full plane size, box side
	ow, oh     int // reduced plane size
}

// reducedPlanes decodes data in full with image/jpeg, checks the reduced
// image red (scale n/8) has the matching type, bounds and subsampling, and
// pairs up their planes.
func reducedPlanes(t *testing.T, data []byte, red image.Image, n int) []planePair {
	t.Helper()
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fb := full.Bounds()
	bw := 8 / n
	w, h := (fb.Dx()*n+7)/8, (fb.Dy()*n+7)/8
	if red.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("reduced bounds %v, want %dx%d", red.Bounds(), w, h)
	}
	switch f := full.(type) {
	case *image.Gray:
		g, ok := red.(*image.Gray)
		if !ok {
			t.Fatalf("reduced decode gave %T for a grey JPEG", red)
		}
		return []planePair{{name: "Y", red: g.Pix, redStride: g.Stride, full: f.Pix, fullStride: f.Stride,
			fw: fb.Dx(), fh: fb.Dy(), bw: bw, ow: w, oh: h}}
	case *image.YCbCr:
		y, ok := red.(*image.YCbCr)
		if !ok {
			t.Fatalf("reduced decode gave %T for a YCbCr JPEG", red)
		}
		if y.SubsampleRatio != f.SubsampleRatio {
			t.Fatalf("ratio %v, want %v", y.SubsampleRatio, f.SubsampleRatio)
		}
		// Chroma planes at their own resolution, blocks of bw×bw each.
		cw, ch := fb.Dx(), fb.Dy()
		switch f.SubsampleRatio {
		case image.YCbCrSubsampleRatio420:
			cw, ch = (fb.Dx()+1)/2, (fb.Dy()+1)/2
		case image.YCbCrSubsampleRatio422:
			cw = (fb.Dx() + 1) / 2
		}
		cow, coh := (cw+bw-1)/bw, (ch+bw-1)/bw
		return []planePair{
			{name: "Y", red: y.Y, redStride: y.YStride, full: f.Y, fullStride: f.YStride, fw: fb.Dx(), fh: fb.Dy(), bw: bw, ow: w, oh: h},
			{name: "Cb", red: y.Cb, redStride: y.CStride, full: f.Cb, fullStride: f.CStride, fw: cw, fh: ch, bw: bw, ow: cow, oh: coh},
			{name: "Cr", red: y.Cr, redStride: y.CStride, full: f.Cr, fullStride: f.CStride, fw: cw, fh: ch, bw: bw, ow: cow, oh: coh},
		}
	}
	t.Fatalf("standard decoder gave %T", full)
	return nil
}

// TestJPEGReducedRejectsCorruption: truncated or damaged JPEGs never panic;
// at every scale, with and without restart markers, truncated ones (even
// by one byte) are refused (ok=false) and damaged ones refused or decoded
// to the right bounds.
func TestJPEGReducedRejectsCorruption(t *testing.T) {
	for _, name := range []string{"dc-420-restart.jpg", "dc-420-restart1.jpg", "dc-444.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 2, 4} {
			want := image.Rect(0, 0, (256*n+7)/8, (192*n+7)/8) // all fixtures are 256×192
			if img, ok := decodeJPEGReduced(data, n); !ok || img.Bounds() != want {
				t.Fatalf("%s at %d/8: intact file not decoded to %v", name, n, want)
			}
			refused := 0
			for cut := 0; cut < len(data); cut += 97 {
				if _, ok := decodeJPEGReduced(data[:cut], n); !ok {
					refused++
				}
				bad := append([]byte(nil), data...)
				bad[cut] ^= 0x5a
				if img, ok := decodeJPEGReduced(bad, n); ok && img.Bounds() != want {
					t.Fatalf("%s at %d/8, flip at %d: bounds %v accepted, want %v", name, n, cut, img.Bounds(), want)
				}
			}
			// Any cut loses blocks or at least the EOI marker, which the
			// standard decoder also refuses.
			for _, cut := range []int{len(data) - 1, len(data) - 2, len(data) - 5, len(data) - 40} {
				if _, ok := decodeJPEGReduced(data[:cut], n); !ok {
					refused++
				}
			}
			if all := (len(data)+96)/97 + 4; refused != all {
				t.Fatalf("%s at %d/8: only %d of %d truncations refused", name, n, refused, all)
			}
		}
	}
}

// FuzzJPEGReduced: arbitrary bytes never panic or hang the reduced decoder
// at any scale, and whatever it accepts has the bounds the header declares
// at that scale.
//
//	go test -run '^$' -fuzz FuzzJPEGReduced -fuzztime 30s ./extractors/preprocess/
func FuzzJPEGReduced(f *testing.F) {
	var seeds [][]byte
	for _, name := range []string{"dc-420.jpg", "dc-422.jpg", "dc-444.jpg", "dc-gray.jpg", "dc-420-restart.jpg", "dc-420-restart1.jpg"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	seeds = append(seeds,
		encodeJPEG(f, texturedPhoto(37, 21), 75),
		encodeJPEG(f, grayOf(smoothPhoto(19, 40)), 95))
	for _, b := range seeds {
		for scale := byte(0); scale < 3; scale++ {
			f.Add(b, scale)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, scale byte) {
		n := [3]int{1, 2, 4}[scale%3]
		img, ok := decodeJPEGReduced(data, n)
		if !ok {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return // the reduced decoder is more lenient about trailing segments
		}
		if want := image.Rect(0, 0, (cfg.Width*n+7)/8, (cfg.Height*n+7)/8); img.Bounds() != want {
			t.Fatalf("bounds %v at %d/8, header says %v", img.Bounds(), n, want)
		}
	})
}

// TestImageTensorTruncatedJPEG: a JPEG that would take the reduced path but
// lacks its last bytes is a bad input, as with the standard decoder.
func TestImageTensorTruncatedJPEG(t *testing.T) {
	data := encodeJPEG(t, benchPhotoSize(600, 500), 90)
	for _, size := range []int{224, 100, 60} { // 1/2, 1/4, 1/8
		spec := ImageSpec{Size: size, Std: [3]float32{1, 1, 1}}
		if _, err := ImageTensor(data, spec, nil); err != nil {
			t.Fatalf("size %d, intact: %v", size, err)
		}
		for _, drop := range []int{1, 2, 7} {
			cut := data[:len(data)-drop]
			if _, err := jpeg.Decode(bytes.NewReader(cut)); err == nil {
				t.Fatalf("standard decoder accepts the file less %d bytes", drop)
			}
			if _, err := ImageTensor(cut, spec, nil); !errors.Is(err, ErrBadInput) {
				t.Fatalf("size %d, less %d bytes: err = %v, want ErrBadInput", size, drop, err)
			}
		}
	}
}

// TestJPEGReductionChoice: the reduced scale is the smallest of 1/8, 1/4,
// 1/2 that keeps the shorter side at least the output size.
func TestJPEGReductionChoice(t *testing.T) {
	cases := []struct {
		format  string
		w, h    int
		minSide int
		want    int
	}{
		{"jpeg", 1000, 1000, 224, 2},
		{"jpeg", 1792, 2000, 224, 1},
		{"jpeg", 1791, 2000, 224, 2},
		{"jpeg", 896, 600, 224, 4},
		{"jpeg", 512, 512, 224, 4},
		{"jpeg", 448, 448, 224, 4},
		{"jpeg", 447, 2000, 224, 0},
		{"jpeg", 1000, 1000, 0, 0},
		{"png", 4000, 4000, 224, 0},
	}
	for _, c := range cases {
		cfg := image.Config{Width: c.w, Height: c.h}
		if got := jpegReduction(c.format, cfg, c.minSide); got != c.want {
			t.Errorf("%s %dx%d for %d: n = %d, want %d", c.format, c.w, c.h, c.minSide, got, c.want)
		}
	}
}

// TestImageTensorReducedPathMatchesFullDecode: for a JPEG at least 2× the
// output size, ImageTensor (decoded at 1/8, 1/4 or 1/2) and the full decode
// + box shrink + resize give nearly the same tensor. The bound is on the
// mean absolute difference in pixel values scaled to [0,1]: 0.012 (3
// levels) for the photo-like picture (measured: at most 0.0091). The
// textured picture's strong stripes (±90 levels, 13-pixel period) lose some
// contrast in the scaled IDCT, which drops each block's frequencies above
// n, so it gets 0.03 at 1/2 and 0.06 at 1/4 (measured: 0.023 and 0.048).
func TestImageTensorReducedPathMatchesFullDecode(t *testing.T) {
	photo1000 := encodeJPEG(t, benchPhoto(), 90)
	photo512 := encodeJPEG(t, benchPhotoSize(512, 384), 90)
	textured := encodeJPEG(t, texturedPhoto(600, 520), 90)
	cases := []struct {
		name    string
		data    []byte
		size    int
		stretch bool
		wantW   int     // width of the reduced decode
		tol     float64 // largest mean absolute difference
	}{
		{"1000-to-64", photo1000, 64, false, 125, 0.012},
		{"1000-to-112", photo1000, 112, false, 125, 0.012},
		{"1000-to-224", photo1000, 224, false, 250, 0.012},
		{"1000-to-224-stretch", photo1000, 224, true, 250, 0.012},
		{"1000-to-400", photo1000, 400, false, 500, 0.012},
		{"512x384-to-160", photo512, 160, false, 256, 0.012},
		{"512x384-to-96", photo512, 96, false, 128, 0.012},
		{"textured-600x520-to-224", textured, 224, false, 300, 0.03},
		{"textured-600x520-to-128", textured, 128, false, 150, 0.06},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := ImageSpec{Size: c.size, Resize: ResizeCenterCrop, Std: [3]float32{1, 1, 1}}
			if c.stretch {
				spec.Resize = ResizeStretch
			}
			got, err := ImageTensor(c.data, spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			p, err := spec.plan()
			if err != nil {
				t.Fatal(err)
			}
			red, _, err := decodeImage(c.data, p.maxPixels, c.size)
			if err != nil {
				t.Fatal(err)
			}
			if red.Bounds().Dx() != c.wantW {
				t.Fatalf("reduced decode is %v, want width %d", red.Bounds(), c.wantW)
			}
			img, orient, err := decodeImage(c.data, p.maxPixels, 0) // full decode
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := img.(*image.YCbCr); !ok || img.Bounds().Dx() == c.wantW {
				t.Fatalf("full decode gave %T %v", img, img.Bounds())
			}
			sq, err := p.resize(img)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, 3*c.size*c.size)
			p.fill(sq, orient, want)
			var mean float64
			for i := range want {
				mean += math.Abs(float64(got[i] - want[i]))
			}
			mean /= float64(len(want))
			t.Logf("mean abs diff %.4f (pixel values in [0,1])", mean)
			if mean > c.tol {
				t.Fatalf("reduced path differs from the full decode by %.4f on average, over %.3f", mean, c.tol)
			}
		})
	}
}
