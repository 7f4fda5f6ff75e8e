package preprocess

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
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

// TestJPEGDCIsTheBlockAverage: the DC-only decode of each fixture (made by
// ImageMagick and libjpeg-turbo's cjpeg, see testdata/README.md) equals the
// 8×8 box average of the standard decoder's full-resolution planes, for
// every sampling and with restart intervals; progressive JPEG is refused.
func TestJPEGDCIsTheBlockAverage(t *testing.T) {
	cases := []struct {
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
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			dc, ok := decodeJPEGDC(data)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			full, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			fb := full.Bounds()
			w, h := (fb.Dx()+7)/8, (fb.Dy()+7)/8
			if dc.Bounds() != image.Rect(0, 0, w, h) {
				t.Fatalf("DC bounds %v, want %dx%d", dc.Bounds(), w, h)
			}
			type plane struct {
				name           string
				dc             []byte
				dcStride       int
				full           []byte
				fullStride     int
				fw, fh, bw, bh int
				ow, oh         int
			}
			var planes []plane
			switch f := full.(type) {
			case *image.Gray:
				g := dc.(*image.Gray)
				planes = append(planes, plane{"Y", g.Pix, g.Stride, f.Pix, f.Stride, fb.Dx(), fb.Dy(), 8, 8, w, h})
			case *image.YCbCr:
				y := dc.(*image.YCbCr)
				if y.SubsampleRatio != f.SubsampleRatio {
					t.Fatalf("ratio %v, want %v", y.SubsampleRatio, f.SubsampleRatio)
				}
				// Chroma planes at their own resolution, 8×8 blocks each.
				cw, ch := fb.Dx(), fb.Dy()
				switch f.SubsampleRatio {
				case image.YCbCrSubsampleRatio420:
					cw, ch = (fb.Dx()+1)/2, (fb.Dy()+1)/2
				case image.YCbCrSubsampleRatio422:
					cw = (fb.Dx() + 1) / 2
				}
				const bw, bh = 8, 8
				cow, coh := (cw+bw-1)/bw, (ch+bh-1)/bh
				planes = append(planes,
					plane{"Y", y.Y, y.YStride, f.Y, f.YStride, fb.Dx(), fb.Dy(), 8, 8, w, h},
					plane{"Cb", y.Cb, y.CStride, f.Cb, f.CStride, cw, ch, bw, bh, cow, coh},
					plane{"Cr", y.Cr, y.CStride, f.Cr, f.CStride, cw, ch, bw, bh, cow, coh})
			default:
				t.Fatalf("standard decoder gave %T", full)
			}
			for _, p := range planes {
				want := boxPlane(p.full, p.fullStride, p.fw, p.fh, p.bw, p.bh, p.ow, p.oh)
				mean, worst := comparePlanes(p.dc, p.dcStride, want, p.ow, p.oh)
				t.Logf("%s: mean abs diff %.3f, max %.2f over %dx%d", p.name, mean, worst, p.ow, p.oh)
				// Only rounding (of each pixel by the standard decoder, of
				// the DC level here) separates the two.
				if mean > 0.5 || worst > 1.5 {
					t.Fatalf("%s plane: mean abs diff %.3f, max %.2f vs the 8x8 block average", p.name, mean, worst)
				}
			}
		})
	}
}

// TestJPEGDCRejectsCorruption: truncated or damaged JPEGs never panic and
// are refused (ok=false) or still decode to the right bounds.
func TestJPEGDCRejectsCorruption(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "dc-420-restart.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(data); cut += 97 {
		decodeJPEGDC(data[:cut])
		bad := append([]byte(nil), data...)
		bad[cut] ^= 0x5a
		if img, ok := decodeJPEGDC(bad); ok && img.Bounds().Empty() {
			t.Fatalf("flip at %d: empty image accepted", cut)
		}
	}
}

// FuzzJPEGDC: arbitrary bytes never panic or hang the DC decoder, and
// whatever it accepts has the bounds the header declares at 1/8 scale.
//
//	go test -run '^$' -fuzz FuzzJPEGDC -fuzztime 30s ./extractors/preprocess/
func FuzzJPEGDC(f *testing.F) {
	for _, name := range []string{"dc-420.jpg", "dc-422.jpg", "dc-gray.jpg", "dc-420-restart1.jpg"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, ok := decodeJPEGDC(data)
		if !ok {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return // the DC decoder is more lenient about trailing segments
		}
		if want := image.Rect(0, 0, (cfg.Width+7)/8, (cfg.Height+7)/8); img.Bounds() != want {
			t.Fatalf("bounds %v, header says %v", img.Bounds(), want)
		}
	})
}

// TestImageTensorDCPathMatchesFullDecode: for a JPEG at least 8× the
// output size, ImageTensor (DC path) and the full decode + box shrink +
// resize give nearly the same tensor.
func TestImageTensorDCPathMatchesFullDecode(t *testing.T) {
	data := encodeJPEG(t, benchPhoto(), 90) // 1000×1000
	for _, size := range []int{64, 112} {
		spec := ImageSpec{Size: size, Resize: ResizeCenterCrop, Std: [3]float32{1, 1, 1}}
		got, err := ImageTensor(data, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := spec.plan()
		if err != nil {
			t.Fatal(err)
		}
		img, orient, err := decodeImage(data, p.maxPixels, 0) // full decode
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := img.(*image.YCbCr); !ok || img.Bounds().Dx() != 1000 {
			t.Fatalf("full decode gave %T %v", img, img.Bounds())
		}
		sq, err := p.resize(img)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, 3*size*size)
		p.fill(sq, orient, want)
		var mean float64
		for i := range want {
			mean += math.Abs(float64(got[i] - want[i]))
		}
		mean /= float64(len(want))
		t.Logf("size %d: mean abs diff %.4f (pixel values in [0,1])", size, mean)
		if mean > 0.02 {
			t.Fatalf("size %d: DC path differs from the full decode by %.4f on average", size, mean)
		}
	}
}
