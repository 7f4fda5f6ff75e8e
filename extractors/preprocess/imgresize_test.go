package preprocess

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

// smoothNRGBA is a w×h picture of gradients and a sine; alpha, when not
// opaque, runs from 30 to 250 down the picture.
func smoothNRGBA(w, h int, opaque bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			c := color.NRGBA{uint8(255 * fx), uint8(255 * fy), uint8(128 + 100*math.Sin(7*fx+4*fy)), 255}
			if !opaque {
				c.A = uint8(30 + 220*fy)
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

// toYCbCr converts an opaque picture to YCbCr with subsampling r, taking
// each chroma sample from the top-left pixel it covers.
func toYCbCr(m *image.NRGBA, r image.YCbCrSubsampleRatio) *image.YCbCr {
	out := image.NewYCbCr(m.Rect, r)
	for y := m.Rect.Min.Y; y < m.Rect.Max.Y; y++ {
		for x := m.Rect.Min.X; x < m.Rect.Max.X; x++ {
			c := m.NRGBAAt(x, y)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			out.Y[out.YOffset(x, y)] = yy
			out.Cb[out.COffset(x, y)] = cb
			out.Cr[out.COffset(x, y)] = cr
		}
	}
	return out
}

// toGray keeps the green channel of a picture.
func toGray(m *image.NRGBA) *image.Gray {
	out := image.NewGray(m.Rect)
	for i := range out.Pix {
		out.Pix[i] = m.Pix[4*i+1]
	}
	return out
}

// resizeDiff compares two NRGBA images byte by byte as fill would use
// them: opaque pixels by their colour bytes, translucent ones by their
// colour composited over white (what the tensor holds) and by alpha. It
// returns the largest and the mean absolute difference in levels, and the
// fraction of values that differ by more than one level.
func resizeDiff(t *testing.T, got, want *image.NRGBA) (maxD, meanD, over1 float64) {
	t.Helper()
	if got.Rect.Size() != want.Rect.Size() {
		t.Fatalf("size %v, want %v", got.Rect.Size(), want.Rect.Size())
	}
	var sum float64
	n, nOver := 0, 0
	for i := 0; i+3 < len(want.Pix); i += 4 {
		g, w := got.Pix[i:i+4], want.Pix[i:i+4]
		for ch := 0; ch < 4; ch++ {
			gv, wv := float64(g[ch]), float64(w[ch])
			if ch < 3 && (g[3] != 255 || w[3] != 255) {
				gv = gv*float64(g[3])/255 + 255 - float64(g[3])
				wv = wv*float64(w[3])/255 + 255 - float64(w[3])
			}
			d := math.Abs(gv - wv)
			maxD = max(maxD, d)
			sum += d
			n++
			if d > 1 {
				nOver++
			}
		}
	}
	return maxD, sum / float64(n), float64(nOver) / float64(n)
}

// TestResizeSeparableMatchesImaging: the separable resampler agrees with
// imaging.Resize on every source type it takes, downscaling, upscaling,
// stretching and at the degenerate 1-pixel sizes. Both round the
// horizontally filtered image to 8 bits, but at an exact half level
// imaging's float arithmetic (colour sums times 1/Σalpha) tips either way
// while the fixed-point sums here round up, so an intermediate value may
// differ by one level; weighted by the vertical pass and rounded again,
// that reaches two levels in a rare byte. Limits: at most 2 levels, under
// 0.1% of values more than 1 level apart, mean under 0.05 levels.
func TestResizeSeparableMatchesImaging(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	noise := func(w, h int, opaque bool) *image.NRGBA { return randomNRGBA(r, w, h, opaque) }
	smooth := func(w, h int, opaque bool) *image.NRGBA { return smoothNRGBA(w, h, opaque) }
	type sizes struct{ sw, sh, dw, dh int }
	all := []sizes{
		{250, 250, 224, 224}, {128, 128, 64, 64}, {256, 256, 224, 224},
		{50, 50, 64, 64}, {3, 5, 40, 33}, {37, 53, 20, 31}, {101, 99, 64, 64},
		{1, 40, 1, 13}, {40, 1, 13, 1}, {1, 1, 5, 5}, {300, 7, 224, 3},
		{100, 100, 100, 100}, {77, 77, 76, 76}, {9, 9, 1, 1},
	}
	cases := []struct {
		name     string
		make     func(w, h int) image.Image
		sizes    []sizes
		filters  []string
		subImage bool
	}{
		{name: "nrgba noise", make: func(w, h int) image.Image { return noise(w, h, true) }},
		{name: "nrgba smooth", make: func(w, h int) image.Image { return smooth(w, h, true) }},
		{name: "nrgba noise sub-image", make: func(w, h int) image.Image { return noise(w+5, h+3, true) }, subImage: true},
		{name: "rgba noise", make: func(w, h int) image.Image { return toRGBA(noise(w, h, true)) }},
		{name: "gray noise", make: func(w, h int) image.Image { return toGray(noise(w, h, true)) }},
		{name: "gray smooth sub-image", make: func(w, h int) image.Image { return toGray(smooth(w+4, h+4, true)) }, subImage: true},
		{name: "ycbcr420 smooth", make: func(w, h int) image.Image { return toYCbCr(smooth(w, h, true), image.YCbCrSubsampleRatio420) }},
		{name: "ycbcr420 noise sub-image", make: func(w, h int) image.Image {
			return toYCbCr(noise(w+3, h+5, true), image.YCbCrSubsampleRatio420)
		}, subImage: true},
		{name: "ycbcr444 noise", make: func(w, h int) image.Image { return toYCbCr(noise(w, h, true), image.YCbCrSubsampleRatio444) }},
		{name: "ycbcr422 noise", make: func(w, h int) image.Image { return toYCbCr(noise(w, h, true), image.YCbCrSubsampleRatio422) }},
		{name: "ycbcr440 noise", make: func(w, h int) image.Image { return toYCbCr(noise(w, h, true), image.YCbCrSubsampleRatio440) }},
		{name: "ycbcr411 smooth", make: func(w, h int) image.Image { return toYCbCr(smooth(w, h, true), image.YCbCrSubsampleRatio411) }},
		{name: "ycbcr410 noise", make: func(w, h int) image.Image { return toYCbCr(noise(w, h, true), image.YCbCrSubsampleRatio410) }},
		{name: "nrgba translucent smooth", make: func(w, h int) image.Image { return smooth(w, h, false) }},
		{name: "rgba translucent smooth", make: func(w, h int) image.Image { return toRGBA(smooth(w, h, false)) }},
		{name: "nrgba translucent noise", make: func(w, h int) image.Image { return noise(w, h, false) }},
		{name: "rgba translucent noise", make: func(w, h int) image.Image { return toRGBA(noise(w, h, false)) }},
	}
	for _, c := range cases {
		var worstMax, worstMean, worstOver1 float64
		for _, s := range all {
			for _, filter := range []string{"linear", "box"} {
				f := map[string]imaging.ResampleFilter{"linear": imaging.Linear, "box": imaging.Box}[filter]
				img := c.make(s.sw, s.sh)
				if c.subImage {
					b := img.Bounds()
					img = img.(subImager).SubImage(image.Rect(b.Min.X+b.Dx()-s.sw-1, b.Min.Y+1, b.Max.X-1, b.Min.Y+1+s.sh))
				}
				if img.Bounds().Dx() != s.sw || img.Bounds().Dy() != s.sh {
					t.Fatalf("%s: source %v, want %dx%d", c.name, img.Bounds(), s.sw, s.sh)
				}
				got, ok := resizeSeparable(img, s.dw, s.dh, f)
				if !ok {
					t.Fatalf("%s %v %s: not handled", c.name, s, filter)
				}
				want := imaging.Resize(img, s.dw, s.dh, f)
				maxD, meanD, over1 := resizeDiff(t, got, want)
				if s.dw*s.dh < 64 {
					meanD, over1 = 0, 0 // a fraction of a few pixels says nothing
				}
				worstMax, worstMean, worstOver1 = max(worstMax, maxD), max(worstMean, meanD), max(worstOver1, over1)
				if maxD > 2 || meanD >= 0.05 || over1 > 0.001 {
					t.Errorf("%s %dx%d→%dx%d %s: max difference %.2f (limit 2), mean %.3f (limit 0.05), %.2f%% over 1 level (limit 0.1%%)",
						c.name, s.sw, s.sh, s.dw, s.dh, filter, maxD, meanD, 100*over1)
				}
			}
		}
		t.Logf("%-26s worst: max difference %.2f, mean %.3f, %.3f%% over 1 level", c.name, worstMax, worstMean, 100*worstOver1)
	}
}

// TestResizeSeparableDeclines: filters with negative lobes and image
// types without a fast reader are left to imaging.Resize.
func TestResizeSeparableDeclines(t *testing.T) {
	pal := image.NewPaletted(image.Rect(0, 0, 20, 20), color.Palette{color.Black, color.White})
	for _, c := range []struct {
		name   string
		img    image.Image
		filter imaging.ResampleFilter
	}{
		{"lanczos", smoothNRGBA(50, 50, true), imaging.Lanczos},
		{"catmull-rom", smoothNRGBA(50, 50, true), imaging.CatmullRom},
		{"paletted", pal, imaging.Linear},
		{"nrgba64", image.NewNRGBA64(image.Rect(0, 0, 20, 20)), imaging.Linear},
	} {
		if _, ok := resizeSeparable(c.img, 16, 16, c.filter); ok {
			t.Errorf("%s: handled, want declined", c.name)
		}
	}
}

// TestAxisWeightsSumToOne: every window's fixed-point weights sum to
// exactly one and stay inside the source.
func TestAxisWeightsSumToOne(t *testing.T) {
	for _, c := range []struct{ src, dst int }{{250, 224}, {1000, 3}, {3, 1000}, {1, 7}, {7, 1}, {224, 224}} {
		aw, ok := newAxisWeights(c.src, c.dst, imaging.Linear)
		if !ok {
			t.Fatalf("%d→%d: declined", c.src, c.dst)
		}
		for i, ws := range aw.w {
			var sum uint32
			for _, w := range ws {
				sum += w
			}
			if sum != 1<<weightBits || aw.start[i] < 0 || aw.start[i]+len(ws) > c.src || len(ws) > aw.taps {
				t.Fatalf("%d→%d output %d: start %d, weights %v (sum %d)", c.src, c.dst, i, aw.start[i], ws, sum)
			}
		}
	}
}
