package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
)

// identitySpec maps a pixel value v to v/255 in every channel.
var identitySpec = ImageSpec{Size: 8, Resize: ResizeStretch, Std: [3]float32{1, 1, 1}, Scale: 1.0 / 255}

// clipSpec uses CLIP's published mean and std.
var clipSpec = ImageSpec{
	Size:  16,
	Mean:  [3]float32{0.48145466, 0.4578275, 0.40821073},
	Std:   [3]float32{0.26862954, 0.26130258, 0.27577711},
	Scale: 1.0 / 255,
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

func encodeGIF(t testing.TB, img *image.Paletted) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// refTensor is the straightforward reference: per pixel through At() and
// the colour model, composited over white, normalised, CHW.
func refTensor(img image.Image, spec ImageSpec) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	scale := spec.Scale
	out := make([]float32, 3*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			a := float64(c.A) / 255
			rgb := [3]uint8{c.R, c.G, c.B}
			for ch := 0; ch < 3; ch++ {
				v := float64(rgb[ch])*a + 255*(1-a)
				out[ch*w*h+y*w+x] = float32((v*float64(scale) - float64(spec.Mean[ch])) / float64(spec.Std[ch]))
			}
		}
	}
	return out
}

func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("len %d, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol || math.IsNaN(float64(got[i])) {
			t.Fatalf("element %d (channel %d): got %v, want %v (tol %v)", i, i/(len(got)/3), got[i], want[i], tol)
		}
	}
}

func randomNRGBA(r *rand.Rand, w, h int, opaque bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
		if opaque && i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

// TestImageTensorExactSize checks layout, channel order and normalisation:
// with an image already Size×Size no resampling happens, so the tensor must
// equal the per-pixel reference for every kind of source image.
func TestImageTensorExactSize(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 8
	gray := image.NewGray(image.Rect(0, 0, n, n))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(r.IntN(256))
	}
	gray16 := image.NewGray16(image.Rect(0, 0, n, n))
	for i := range gray16.Pix {
		gray16.Pix[i] = uint8(r.IntN(256))
	}
	pal := color.Palette{color.NRGBA{255, 0, 0, 255}, color.NRGBA{0, 255, 0, 255}, color.NRGBA{0, 0, 255, 255}, color.NRGBA{10, 20, 30, 255}}
	paletted := image.NewPaletted(image.Rect(0, 0, n, n), pal)
	for i := range paletted.Pix {
		paletted.Pix[i] = uint8(r.IntN(len(pal)))
	}
	palAlpha := color.Palette{color.NRGBA{0, 0, 0, 0}, color.NRGBA{200, 100, 50, 255}}
	gifAlpha := image.NewPaletted(image.Rect(0, 0, n, n), palAlpha)
	for i := range gifAlpha.Pix {
		gifAlpha.Pix[i] = uint8(r.IntN(2))
	}
	rgba64 := image.NewNRGBA64(image.Rect(0, 0, n, n))
	for i := range rgba64.Pix {
		rgba64.Pix[i] = uint8(r.IntN(256))
	}
	cases := []struct {
		name string
		img  image.Image
		data []byte
		spec ImageSpec
	}{
		{"png rgb", randomNRGBA(r, n, n, true), nil, identitySpec},
		{"png rgb clip norm", randomNRGBA(r, n, n, true), nil, func() ImageSpec { s := clipSpec; s.Size = n; return s }()},
		{"png alpha over white", randomNRGBA(r, n, n, false), nil, identitySpec},
		{"png grey", gray, nil, identitySpec},
		{"png grey16", gray16, nil, identitySpec},
		{"png nrgba64", rgba64, nil, identitySpec},
		{"png palette", paletted, nil, identitySpec},
		{"gif palette", paletted, encodeGIF(t, paletted), identitySpec},
		{"gif transparent", gifAlpha, encodeGIF(t, gifAlpha), identitySpec},
		{"center crop of square is identity", randomNRGBA(r, n, n, true), nil, func() ImageSpec { s := identitySpec; s.Resize = ResizeCenterCrop; return s }()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data
			if data == nil {
				data = encodePNG(t, tc.img)
			}
			got, err := ImageTensor(data, tc.spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The reference reads the decoded file, so that 16-bit sources
			// are compared at the precision the codec stores.
			dec, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			tol := 1e-5
			if _, wide := dec.(*image.NRGBA64); wide {
				// 16-bit with alpha: imaging and the colour model round
				// premultiplied values differently, by at most one level.
				tol = 1.0/255 + 1e-5
			}
			assertClose(t, got, refTensor(dec, tc.spec), tol)
		})
	}
}

func TestImageTensorChannelOrderAndLayout(t *testing.T) {
	// Left half pure red, right half pure blue; 4x2 stretched to 4x4 with
	// nearest keeps the columns, so plane 0 (R) is 1 on the left only.
	img := image.NewNRGBA(image.Rect(0, 0, 4, 2))
	for y := 0; y < 2; y++ {
		for x := 0; x < 4; x++ {
			c := color.NRGBA{255, 0, 0, 255}
			if x >= 2 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	spec := ImageSpec{Size: 4, Resize: ResizeStretch, Std: [3]float32{1, 1, 1}, Filter: "nearest"}
	got, err := ImageTensor(encodePNG(t, img), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for ch := 0; ch < 3; ch++ {
		for y := 0; y < 4; y++ {
			for x := 0; x < 4; x++ {
				var want float32
				switch {
				case ch == 0 && x < 2, ch == 2 && x >= 2:
					want = 1
				}
				if v := got[ch*16+y*4+x]; v != want {
					t.Fatalf("channel %d (y=%d x=%d) = %v, want %v", ch, y, x, v, want)
				}
			}
		}
	}
}

// TestImageTensorSolidColour: a solid colour stays that colour through any
// resize, so every element is known analytically.
func TestImageTensorSolidColour(t *testing.T) {
	col := color.NRGBA{R: 200, G: 30, B: 90, A: 255}
	src := image.NewNRGBA(image.Rect(0, 0, 300, 170))
	for i := 0; i < len(src.Pix); i += 4 {
		src.Pix[i], src.Pix[i+1], src.Pix[i+2], src.Pix[i+3] = col.R, col.G, col.B, col.A
	}
	spec := clipSpec
	want := func(ch int, v uint8) float32 {
		return (float32(v)/255 - spec.Mean[ch]) / spec.Std[ch]
	}
	formats := []struct {
		name string
		data []byte
		tol  float64 // JPEG is lossy
	}{
		{"png", encodePNG(t, src), 1e-5},
		{"jpeg", encodeJPEG(t, src, 95), 3.0 / 255 / 0.26},
	}
	for _, f := range formats {
		for _, resize := range []string{ResizeCenterCrop, ResizeStretch} {
			for _, filter := range []string{"linear", "lanczos", "bicubic", "box", "nearest"} {
				t.Run(f.name+"/"+resize+"/"+filter, func(t *testing.T) {
					s := spec
					s.Resize, s.Filter = resize, filter
					got, err := ImageTensor(f.data, s, nil)
					if err != nil {
						t.Fatal(err)
					}
					plane := s.Size * s.Size
					if len(got) != 3*plane {
						t.Fatalf("len %d", len(got))
					}
					rgb := [3]uint8{col.R, col.G, col.B}
					for i, v := range got {
						ch := i / plane
						if d := math.Abs(float64(v - want(ch, rgb[ch]))); d > f.tol {
							t.Fatalf("element %d channel %d: %v, want %v", i, ch, v, want(ch, rgb[ch]))
						}
					}
				})
			}
		}
	}
}

// quadrants returns a w×h image whose four quadrants around the centre have
// the colours q[0] (top-left), q[1] (top-right), q[2] (bottom-left) and
// q[3] (bottom-right).
func quadrants(w, h int, q [4]color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := 0
			if x >= w/2 {
				i++
			}
			if y >= h/2 {
				i += 2
			}
			img.SetNRGBA(x, y, q[i])
		}
	}
	return img
}

var quadColours = [4]color.NRGBA{
	{230, 20, 20, 255},  // red
	{20, 230, 20, 255},  // green
	{20, 20, 230, 255},  // blue
	{230, 230, 20, 255}, // yellow
}

// quadrantAt reads the tensor's pixel at (x, y) as 0..255 RGB.
func quadrantAt(tensor []float32, size, x, y int) [3]float64 {
	p := size * size
	return [3]float64{
		float64(tensor[y*size+x]) * 255,
		float64(tensor[p+y*size+x]) * 255,
		float64(tensor[2*p+y*size+x]) * 255,
	}
}

func nearestQuadColour(t *testing.T, px [3]float64) int {
	t.Helper()
	best, bestD := -1, math.Inf(1)
	for i, c := range quadColours {
		d := math.Abs(px[0]-float64(c.R)) + math.Abs(px[1]-float64(c.G)) + math.Abs(px[2]-float64(c.B))
		if d < bestD {
			best, bestD = i, d
		}
	}
	if bestD > 60 { // lossy codecs shift saturated colours by a few levels
		t.Fatalf("pixel %v matches no quadrant colour (closest %d at distance %v)", px, best, bestD)
	}
	return best
}

// withExifOrientation inserts an APP1 Exif segment holding one IFD0 entry,
// Orientation = o, right after the JPEG's SOI marker.
func withExifOrientation(jpg []byte, o uint16, order binary.ByteOrder) []byte {
	var tiff bytes.Buffer
	if order == binary.LittleEndian {
		tiff.WriteString("II*\x00")
	} else {
		tiff.WriteString("MM\x00*")
	}
	_ = binary.Write(&tiff, order, uint32(8)) // IFD0 offset
	_ = binary.Write(&tiff, order, uint16(2)) // two entries
	// An unrelated tag first (ImageWidth, LONG), then Orientation (SHORT).
	_ = binary.Write(&tiff, order, []uint16{0x0100, 4})
	_ = binary.Write(&tiff, order, []uint32{1, 64})
	_ = binary.Write(&tiff, order, []uint16{0x0112, 3})
	_ = binary.Write(&tiff, order, uint32(1))
	_ = binary.Write(&tiff, order, []uint16{o, 0})
	_ = binary.Write(&tiff, order, uint32(0)) // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// TestImageTensorExifOrientation writes JPEGs carrying each EXIF orientation
// and checks where each quadrant lands. The expected layout comes from
// imaging's own transforms applied to a 2×2 picture of the quadrants, an
// implementation independent of the index arithmetic under test.
func TestImageTensorExifOrientation(t *testing.T) {
	transforms := map[int]func(image.Image) *image.NRGBA{
		1: imaging.Clone, 2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV,
		5: imaging.Transpose, 6: imaging.Rotate270, 7: imaging.Transverse, 8: imaging.Rotate90,
	}
	tiny := image.NewNRGBA(image.Rect(0, 0, 2, 2))
	for i, c := range quadColours {
		tiny.SetNRGBA(i%2, i/2, c)
	}
	spec := ImageSpec{Size: 32, Std: [3]float32{1, 1, 1}}
	for _, shape := range []struct {
		name   string
		w, h   int
		resize string
	}{
		{"square crop", 96, 96, ResizeCenterCrop},
		{"wide crop", 128, 96, ResizeCenterCrop},
		{"tall stretch", 64, 96, ResizeStretch},
	} {
		jpg := encodeJPEG(t, quadrants(shape.w, shape.h, quadColours), 95)
		for o := 1; o <= 8; o++ {
			for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				t.Run(shape.name+"/"+order.String()+"/"+string(rune('0'+o)), func(t *testing.T) {
					s := spec
					s.Resize = shape.resize
					got, err := ImageTensor(withExifOrientation(jpg, uint16(o), order), s, nil)
					if err != nil {
						t.Fatal(err)
					}
					want := transforms[o](tiny)
					// Sample well inside each displayed quadrant.
					for qy := 0; qy < 2; qy++ {
						for qx := 0; qx < 2; qx++ {
							x, y := 4+qx*(s.Size/2+4), 4+qy*(s.Size/2+4)
							gotQ := nearestQuadColour(t, quadrantAt(got, s.Size, x, y))
							wc := want.NRGBAAt(qx, qy)
							wantQ := -1
							for i, c := range quadColours {
								if c == wc {
									wantQ = i
								}
							}
							if gotQ != wantQ {
								t.Errorf("orientation %d: displayed quadrant (%d,%d) shows colour %d, want %d", o, qx, qy, gotQ, wantQ)
							}
						}
					}
				})
			}
		}
	}
}

func TestJPEGOrientationParser(t *testing.T) {
	jpg := encodeJPEG(t, image.NewGray(image.Rect(0, 0, 8, 8)), 90)
	withO := withExifOrientation(jpg, 6, binary.BigEndian)
	cases := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", jpg, 1},
		{"orientation 6", withO, 6},
		{"out of range value", withExifOrientation(jpg, 9, binary.LittleEndian), 1},
		{"truncated in segment", withO[:20], 1},
		{"not a jpeg", []byte("II*\x00garbage"), 1},
		{"empty", nil, 1},
	}
	// Every prefix of a valid file must parse without panicking.
	for n := 0; n < 60; n++ {
		if o := jpegOrientation(withO[:n]); o < 1 || o > 8 {
			t.Fatalf("prefix %d: orientation %d", n, o)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := jpegOrientation(tc.data); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestImageTensorAlphaResized(t *testing.T) {
	// Fully transparent pixels of any colour read as white after resizing;
	// an opaque half keeps its colour.
	r := rand.New(rand.NewPCG(3, 4))
	img := randomNRGBA(r, 64, 64, false)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			i := img.PixOffset(x, y)
			if x < 32 {
				img.Pix[i+3] = 0
			} else {
				copy(img.Pix[i:i+4], []uint8{10, 20, 30, 255})
			}
		}
	}
	spec := ImageSpec{Size: 16, Std: [3]float32{1, 1, 1}}
	got, err := ImageTensor(encodePNG(t, img), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			px := quadrantAt(got, 16, x, y)
			var want [3]float64
			switch {
			case x < 7:
				want = [3]float64{255, 255, 255}
			case x > 8:
				want = [3]float64{10, 20, 30}
			default:
				continue // the filter mixes the two halves here
			}
			for ch := range want {
				if math.Abs(px[ch]-want[ch]) > 0.01 {
					t.Fatalf("(%d,%d) = %v, want %v", x, y, px, want)
				}
			}
		}
	}
}

// TestImageTensorFixtures decodes committed fixtures for formats Go cannot
// encode: a WebP (lossless) and a CMYK JPEG (made with ImageMagick from the
// quadrant picture, see testdata/README.md).
func TestImageTensorFixtures(t *testing.T) {
	for _, name := range []string{"quadrants.webp", "quadrants-cmyk.jpg", "quadrants-lossy.webp"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(name, "cmyk") {
				if img, _, err := image.Decode(bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				} else if _, ok := img.(*image.CMYK); !ok {
					t.Fatalf("fixture decodes to %T, want *image.CMYK", img)
				}
			}
			spec := ImageSpec{Size: 32, Std: [3]float32{1, 1, 1}}
			got, err := ImageTensor(data, spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			for q := 0; q < 4; q++ {
				x, y := 4+(q%2)*20, 4+(q/2)*20
				if c := nearestQuadColour(t, quadrantAt(got, 32, x, y)); c != q {
					t.Errorf("quadrant %d shows colour %d", q, c)
				}
			}
		})
	}
}

// pngWithHeader writes a PNG signature and a valid IHDR chunk declaring w×h,
// followed by a tiny IDAT: a decompression-bomb shape.
func pngWithHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		b.WriteString(typ)
		b.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func TestImageTensorBadInput(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pngData := encodePNG(t, randomNRGBA(r, 100, 100, true))
	jpgData := encodeJPEG(t, randomNRGBA(r, 100, 100, true), 90)
	gifData := encodeGIF(t, image.NewPaletted(image.Rect(0, 0, 50, 50), color.Palette{color.Black, color.White}))
	spec := ImageSpec{Size: 8, Std: [3]float32{1, 1, 1}}
	small := spec
	small.MaxPixels = 5000
	cases := []struct {
		name   string
		data   []byte
		spec   ImageSpec
		reason string
	}{
		{"empty", nil, spec, "empty"},
		{"garbage", []byte("definitely not an image"), spec, "header"},
		{"bomb png", pngWithHeader(100000, 100000), spec, "over the limit"},
		{"bomb png just over custom limit", pngWithHeader(100, 51), small, "over the limit"},
		{"real png over custom limit", pngData, small, "over the limit"},
		{"zero width png", pngWithHeader(0, 10), spec, ""},
		{"truncated png", pngData[:len(pngData)/2], spec, "decode png"},
		{"truncated jpeg", jpgData[:len(jpgData)/2], spec, "decode jpeg"},
		{"truncated gif", gifData[:len(gifData)-8], spec, ""},
		{"jpeg header only", jpgData[:200], spec, ""},
		{"corrupt png body", func() []byte {
			d := append([]byte{}, pngData...)
			for i := 60; i < len(d)-20; i += 7 {
				d[i] ^= 0x5a
			}
			return d
		}(), spec, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ImageTensor(tc.data, tc.spec, nil)
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("err = %v (tensor len %d), want ErrBadInput", err, len(got))
			}
			if tc.reason != "" && !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.reason)
			}
		})
	}
}

func TestImageSpecValidation(t *testing.T) {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	base := ImageSpec{Size: 4, Std: [3]float32{1, 1, 1}}
	cases := []struct {
		name string
		mod  func(*ImageSpec)
	}{
		{"zero size", func(s *ImageSpec) { s.Size = 0 }},
		{"huge size", func(s *ImageSpec) { s.Size = MaxImageSize + 1 }},
		{"zero std", func(s *ImageSpec) { s.Std[1] = 0 }},
		{"nan mean", func(s *ImageSpec) { s.Mean[2] = float32(math.NaN()) }},
		{"inf scale", func(s *ImageSpec) { s.Scale = float32(math.Inf(1)) }},
		{"unknown resize", func(s *ImageSpec) { s.Resize = "fit" }},
		{"unknown filter", func(s *ImageSpec) { s.Filter = "sinc" }},
		{"negative max pixels", func(s *ImageSpec) { s.MaxPixels = -1 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.mod(&s)
			if _, err := ImageTensor(data, s, nil); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("err = %v, want ErrBadSpec", err)
			}
		})
	}
	if _, err := ImageTensor(data, base, nil); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
}

func TestImageTensorReusesDst(t *testing.T) {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	spec := ImageSpec{Size: 4, Std: [3]float32{1, 1, 1}}
	buf := make([]float32, 100)
	got, err := ImageTensor(data, spec, buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 48 || &got[0] != &buf[0] {
		t.Fatalf("dst not reused: len %d", len(got))
	}
	small := make([]float32, 10)
	got, err = ImageTensor(data, spec, small)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 48 || &got[0] == &small[0] {
		t.Fatalf("too-small dst must not be used: len %d", len(got))
	}
}

// TestPreShrink compares the box pre-shrink path for large JPEG, grey and
// PNG (RGBA / NRGBA, opaque and translucent) inputs with a plain imaging
// resize of the same decoded pixels, on a smooth picture where both must
// agree closely, for every chroma subsampling the JPEG decoder produces.
func TestPreShrink(t *testing.T) {
	const w, h, size = 523, 411, 32
	smooth := image.NewNRGBA(image.Rect(0, 0, w, h))
	translucent := image.NewNRGBA(image.Rect(0, 0, w, h))
	gray := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/w, float64(y)/h
			c := color.NRGBA{uint8(255 * fx), uint8(255 * fy), uint8(128 + 100*math.Sin(5*fx+3*fy)), 255}
			smooth.SetNRGBA(x, y, c)
			c.A = uint8(40 + 200*fy)
			translucent.SetNRGBA(x, y, c)
			gray.SetGray(x, y, color.Gray{uint8(128 + 120*math.Sin(4*fx-2*fy))})
		}
	}
	ycc := func(r image.YCbCrSubsampleRatio) *image.YCbCr { return toYCbCr(smooth, r) }
	cases := map[string]image.Image{
		"gray": gray,
		"444":  ycc(image.YCbCrSubsampleRatio444), "422": ycc(image.YCbCrSubsampleRatio422),
		"420": ycc(image.YCbCrSubsampleRatio420), "440": ycc(image.YCbCrSubsampleRatio440),
		"411": ycc(image.YCbCrSubsampleRatio411), "410": ycc(image.YCbCrSubsampleRatio410),
		"420 odd crop":      ycc(image.YCbCrSubsampleRatio420).SubImage(image.Rect(3, 5, w-2, h-1)),
		"nrgba":             smooth,
		"nrgba odd crop":    smooth.SubImage(image.Rect(3, 5, w-2, h-1)),
		"rgba":              toRGBA(smooth),
		"nrgba translucent": translucent,
		"rgba translucent":  toRGBA(translucent),
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := ImageSpec{Size: size, Resize: ResizeStretch, Std: [3]float32{1, 1, 1}}.plan()
			if err != nil {
				t.Fatal(err)
			}
			if shrunk := preShrink(img, size); shrunk == img {
				t.Fatal("pre-shrink not taken")
			}
			got, err := p.resize(img)
			if err != nil {
				t.Fatal(err)
			}
			want := imaging.Resize(img, size, size, imaging.Linear)
			for i := range got.Pix {
				if d := math.Abs(float64(got.Pix[i]) - float64(want.Pix[i])); d > 4 {
					t.Fatalf("byte %d (pixel %d,%d): %d, plain resize %d", i, (i/4)%size, (i/4)/size, got.Pix[i], want.Pix[i])
				}
			}
		})
	}
	// Small inputs and other types pass through untouched.
	small := image.NewGray(image.Rect(0, 0, 100, 100))
	if preShrink(small, 32) != image.Image(small) {
		t.Fatal("100px image shrunk for a 32px output")
	}
	pal := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White})
	if preShrink(pal, size) != image.Image(pal) {
		t.Fatal("paletted image shrunk")
	}
}

// TestShrinkRGBAWeightsByAlpha: a fully transparent pixel lends no colour
// to its block, for straight (NRGBA) and premultiplied (RGBA) input.
func TestShrinkRGBAWeightsByAlpha(t *testing.T) {
	for _, premul := range []bool{false, true} {
		// One 2×2 block: three transparent "black" pixels, one opaque red.
		pix := []uint8{0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0}
		if !premul {
			pix[0], pix[8], pix[12] = 90, 90, 90 // colour under alpha 0 must not count
		}
		got := shrinkRGBA(pix, 8, image.Rect(0, 0, 2, 2), 2, premul).(*image.NRGBA)
		want := color.NRGBA{255, 0, 0, 64}
		if c := got.NRGBAAt(0, 0); c != want {
			t.Errorf("premultiplied %v: got %v, want %v", premul, c, want)
		}
	}
}

func toRGBA(m *image.NRGBA) *image.RGBA {
	out := image.NewRGBA(m.Bounds())
	draw.Draw(out, out.Rect, m, m.Rect.Min, draw.Src)
	return out
}
