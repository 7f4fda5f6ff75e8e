package preprocess

import (
	"encoding/binary"
	"math"
)

// EncodeWAV writes samples (−1..1, clipped) as a mono 16-bit PCM WAV file
// at rate Hz: the format DecodeAudio reads fastest. For tools and tests
// that make audio (spoken query clips, noise, silence).
func EncodeWAV(samples []float32, rate int) []byte {
	n := len(samples) * 2
	b := make([]byte, 44+n)
	le := binary.LittleEndian
	copy(b, "RIFF")
	le.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	le.PutUint32(b[16:], 16)
	le.PutUint16(b[20:], 1) // PCM
	le.PutUint16(b[22:], 1) // mono
	le.PutUint32(b[24:], uint32(rate))
	le.PutUint32(b[28:], uint32(rate*2))
	le.PutUint16(b[32:], 2)
	le.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	le.PutUint32(b[40:], uint32(n))
	for i, x := range samples {
		v := math.Round(float64(x) * 32767)
		le.PutUint16(b[44+2*i:], uint16(int16(max(-32768, min(32767, v)))))
	}
	return b
}
