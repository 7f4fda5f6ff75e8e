package preprocess

import (
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func addFixtures(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzImageTensor: any bytes either give a finite tensor of the right size
// or an error wrapping ErrBadInput; never a panic or hang.
func FuzzImageTensor(f *testing.F) {
	r := rand.New(rand.NewPCG(13, 14))
	f.Add(encodePNG(f, randomNRGBA(r, 9, 7, false)))
	f.Add(encodePNG(f, image.NewGray(image.Rect(0, 0, 5, 3))))
	jpg := encodeJPEG(f, randomNRGBA(r, 12, 10, true), 80)
	f.Add(jpg)
	f.Add(withExifOrientation(jpg, 6, binary.BigEndian))
	f.Add(withExifOrientation(jpg, 7, binary.LittleEndian))
	f.Add(encodeGIF(f, image.NewPaletted(image.Rect(0, 0, 6, 6), color.Palette{color.Black, color.Transparent})))
	f.Add(pngWithHeader(100000, 100000))
	addFixtures(f, "quadrants.webp", "quadrants-lossy.webp", "quadrants-cmyk.jpg", "dc-420-restart1.jpg")
	// JPEGs that take the reduced decoder at 1/2, 1/4 (and 1/8 above) for
	// Size 16.
	f.Add(encodeJPEG(f, benchPhotoSize(40, 36), 85))
	f.Add(withExifOrientation(encodeJPEG(f, benchPhotoSize(70, 64), 85), 6, binary.BigEndian))
	spec := ImageSpec{Size: 16, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.25, 0.25, 0.25}, MaxPixels: 1 << 16}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := ImageTensor(data, spec, nil)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error does not wrap ErrBadInput: %v", err)
			}
			return
		}
		if len(out) != 3*16*16 {
			t.Fatalf("tensor length %d", len(out))
		}
		for i, v := range out {
			// (0..255)/255 normalised by mean 0.5 std 0.25 lies in [-2, 2].
			if math.IsNaN(float64(v)) || v < -2.0001 || v > 2.0001 {
				t.Fatalf("element %d = %v", i, v)
			}
		}
	})
}

// FuzzDecodeAudio: any bytes either give samples in [-1, 1] within the
// duration limit or an error wrapping ErrBadInput.
func FuzzDecodeAudio(f *testing.F) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, ws := range []wavSpec{
		{wavPCM, 8, 8000, false}, {wavPCM, 16, 16000, false}, {wavPCM, 24, 22050, true},
		{wavPCM, 32, 44100, false}, {wavFloat, 32, 48000, false}, {wavFloat, 64, 16000, true},
	} {
		data, _ := makeWAV(f, ws, noise(r, 64, 2))
		f.Add(data)
	}
	addFixtures(f, "tone1k.flac", "tone1k.mp3")
	const maxSeconds = 3
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := DecodeAudio(data, AudioSpec{SampleRate: 16000, MaxSeconds: maxSeconds})
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error does not wrap ErrBadInput: %v", err)
			}
			return
		}
		// Resampling from a low rate rounds the length up.
		if len(out) == 0 || len(out) > maxSeconds*16000+16 {
			t.Fatalf("%d samples", len(out))
		}
		for i, v := range out {
			if math.IsNaN(float64(v)) || v < -1 || v > 1 {
				t.Fatalf("sample %d = %v", i, v)
			}
		}
	})
}
