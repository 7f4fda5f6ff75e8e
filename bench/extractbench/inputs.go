package extractbench

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/omnirank/omnirank/extractors"
)

// Input sizes of the synthetic benchmark corpus.
const (
	// JPEG pictures are photo-like (gradient backdrop, a lit object with
	// edges, sensor noise), quality 85, with sides drawn from
	// ImageMinSide..ImageMaxSide (portrait, landscape and square), like
	// product photos after a shop's own downscaling.
	ImageMinSide = 512
	ImageMaxSide = 1000
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
	w := ImageMinSide + r.IntN(ImageMaxSide-ImageMinSide+1)
	h := ImageMinSide + r.IntN(ImageMaxSide-ImageMinSide+1)
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	bg0 := [3]float64{150 + 100*r.Float64(), 150 + 100*r.Float64(), 150 + 100*r.Float64()}
	bg1 := [3]float64{60 + 120*r.Float64(), 60 + 120*r.Float64(), 60 + 120*r.Float64()}
	obj := [3]float64{255 * r.Float64(), 255 * r.Float64(), 255 * r.Float64()}
	cx, cy := (0.3+0.4*r.Float64())*float64(w), (0.3+0.4*r.Float64())*float64(h)
	rx, ry := (0.15+0.2*r.Float64())*float64(w), (0.15+0.2*r.Float64())*float64(h)
	stripes := 4 + r.Float64()*20 // texture on the object (fabric, grain)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := float64(y) / float64(h)
			var c [3]float64
			for k := range c {
				c[k] = bg0[k]*(1-t) + bg1[k]*t
			}
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			if d := dx*dx + dy*dy; d < 1 {
				light := 0.55 + 0.45*(1-d) + 0.1*math.Sin(stripes*(dx+0.5*dy))
				for k := range c {
					c[k] = obj[k] * light
				}
			}
			i := y*img.Stride + 4*x
			for k := range c {
				v := c[k] + 6*r.NormFloat64()
				img.Pix[i+k] = uint8(max(0, min(255, v)))
			}
			img.Pix[i+3] = 255
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
