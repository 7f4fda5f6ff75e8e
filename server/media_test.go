package server

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

// testImage draws a picture that differs per seed: a background colour, a
// disc and stripes, so the starter image model can tell them apart.
func testImage(t *testing.T, seed int) []byte {
	t.Helper()
	const size = 96
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	bg := color.RGBA{uint8(37 * seed % 256), uint8(91 * seed % 256), uint8(173 * seed % 256), 255}
	fg := color.RGBA{255 - bg.R, 255 - bg.G, 255 - bg.B, 255}
	cx, cy, r := float64(20+seed*7%56), float64(20+seed*13%56), float64(10+seed%15)
	stripe := 4 + seed%9
	for y := range size {
		for x := range size {
			c := bg
			if math.Hypot(float64(x)-cx, float64(y)-cy) < r {
				c = fg
			} else if (x+y*(seed%3))/stripe%2 == 0 {
				c = color.RGBA{bg.R / 2, bg.G / 2, bg.B / 2, 255}
			}
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testWAV synthesises a 16 kHz mono 16-bit clip: a tone whose pitch depends
// on the seed, with a little vibrato.
func testWAV(t *testing.T, seed int, seconds float64) []byte {
	t.Helper()
	const rate = 16000
	n := int(seconds * rate)
	freq := 200 + float64(seed%20)*90
	pcm := make([]byte, 2*n)
	for i := range n {
		tt := float64(i) / rate
		v := 0.5*math.Sin(2*math.Pi*freq*tt+0.5*math.Sin(2*math.Pi*3*tt)) + 0.2*math.Sin(2*math.Pi*2.5*freq*tt)
		binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(v*20000)))
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(pcm)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate * 2), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(pcm)))
	b.Write(pcm)
	return b.Bytes()
}
