package index

import "math"

// quantize writes symmetric int8 codes of v into dst and returns the scale
// such that v[i] ≈ dst[i] * scale.
func quantize(dst []int8, v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	inv := 127 / m
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x * inv)))
	}
	return m / 127
}

// dotInt8Go is the portable integer dot product of two code vectors.
func dotInt8Go(a, b []int8) int32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 int32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += int32(a[i]) * int32(b[i])
		s1 += int32(a[i+1]) * int32(b[i+1])
		s2 += int32(a[i+2]) * int32(b[i+2])
		s3 += int32(a[i+3]) * int32(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += int32(a[i]) * int32(b[i])
	}
	return s0 + s1 + s2 + s3
}

// dequantize writes code × scale into dst.
func dequantize(dst []float32, code []int8, scale float32) {
	code = code[:len(dst)]
	for i, c := range code {
		dst[i] = float32(c) * scale
	}
}

// dotF32I8Go is the portable dot product of a float32 vector and an int8
// code vector of the same length (without the code's scale).
func dotF32I8Go(a []float32, b []int8) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		aa, bb := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += aa[0] * float32(bb[0])
		s1 += aa[1] * float32(bb[1])
		s2 += aa[2] * float32(bb[2])
		s3 += aa[3] * float32(bb[3])
	}
	for ; i < len(a); i++ {
		s0 += a[i] * float32(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}
