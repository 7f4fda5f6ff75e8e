package bench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/omnirank/omnirank/extractors"
)

// Input sizes of the synthetic benchmark corpus.
const (
	ImageSide    = 512   // JPEG pictures, 512×512, quality 85
	AudioSeconds = 2.0   // WAV clips, 16-bit mono
	AudioRate    = 16000 // no resampling needed for the starter model
	distinct     = 64    // distinct inputs, reused round-robin
)

var words = strings.Fields(`red blue green black white running shoe shoes leather cotton
wool jacket coat dress shirt steel chef knife kitchen pan organic tea coffee mug ceramic
wooden toy blocks children garden hose lamp desk usb wireless headphones noise cancelling
bluetooth speaker watch smart yoga mat backpack hiking waterproof travel bag wallet men
women kids sport outdoor premium classic vintage modern set pack large small medium`)

// Inputs returns n raw inputs of modality m (at most 64 distinct ones,
// repeated): product titles, JPEG pictures or WAV clips.
func Inputs(m extractors.Modality, n int) ([][]byte, error) {
	r := rand.New(rand.NewPCG(42, uint64(len(m))))
	k := min(n, distinct)
	out := make([][]byte, 0, n)
	for i := 0; i < k; i++ {
		switch m {
		case extractors.Text:
			t := make([]string, 8+r.IntN(8))
			for j := range t {
				t[j] = words[r.IntN(len(words))]
			}
			out = append(out, []byte(strings.Join(t, " ")))
		case extractors.Image:
			b, err := picture(r)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
		case extractors.Audio:
			out = append(out, clip(r))
		default:
			return nil, fmt.Errorf("%w: modality %q", ErrInvalidOptions, m)
		}
	}
	for i := k; i < n; i++ {
		out = append(out, out[i%k])
	}
	return out, nil
}

func picture(r *rand.Rand) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, ImageSide, ImageSide))
	c0 := color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	c1 := color.NRGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
	cx, cy, rad := r.Float64()*ImageSide, r.Float64()*ImageSide, (0.1+0.3*r.Float64())*ImageSide
	for y := 0; y < ImageSide; y++ {
		for x := 0; x < ImageSide; x++ {
			t := float64(y) / ImageSide
			c := color.NRGBA{uint8(float64(c0.R)*(1-t) + float64(c1.R)*t), uint8(float64(c0.G)*(1-t) + float64(c1.G)*t), uint8(float64(c0.B)*(1-t) + float64(c1.B)*t), 255}
			if dx, dy := float64(x)-cx, float64(y)-cy; dx*dx+dy*dy < rad*rad {
				c = color.NRGBA{255 - c.R, c.B, c.G, 255}
			}
			i := y*img.Stride + 4*x
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("bench picture: %w", err)
	}
	return b.Bytes(), nil
}

func clip(r *rand.Rand) []byte {
	n := int(AudioSeconds * AudioRate)
	f0, f1 := 100+3000*r.Float64(), 100+3000*r.Float64()
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(AudioRate), uint32(2 * AudioRate), uint16(2), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(2*n))
	phase := 0.0
	for i := 0; i < n; i++ {
		f := f0 + (f1-f0)*float64(i)/float64(n)
		phase += 2 * math.Pi * f / AudioRate
		v := 0.3*math.Sin(phase) + 0.02*r.NormFloat64()
		_ = binary.Write(&b, le, int16(v*32767))
	}
	return b.Bytes()
}
