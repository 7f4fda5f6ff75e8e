package preprocess

import (
	"math"
	"testing"
)

func TestEncodeWAVRoundTrip(t *testing.T) {
	in := make([]float32, 1600)
	for i := range in {
		in[i] = float32(0.5 * math.Sin(float64(i)/7))
	}
	in[3], in[4] = 2, -2 // clipped
	out, err := DecodeAudio(EncodeWAV(in, 16000), AudioSpec{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d samples back, want %d", len(out), len(in))
	}
	for i := range in {
		want := max(-1, min(1, in[i]))
		if d := math.Abs(float64(out[i] - want)); d > 1.0/16384 {
			t.Fatalf("sample %d: %v back, want %v", i, out[i], want)
		}
	}
}
