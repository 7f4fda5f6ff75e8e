package index

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// CPU features, read once at start-up.
var (
	// hasAVX2 selects the AVX2 int8 dot product.
	hasAVX2 = cpu.X86.HasAVX2
	// hasFMA selects the AVX2+FMA float32 dot product.
	hasFMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// dotInt8AVX2 is dotInt8 with AVX2; len(b) >= len(a).
//
//go:noescape
func dotInt8AVX2(a, b []int8) int32

// dotF32FMA is the float32 dot product of a and b[:len(a)] with AVX2 and
// FMA; len(b) >= len(a).
//
//go:noescape
func dotF32FMA(a, b []float32) float32

// prefetchLines asks the CPU to start loading n consecutive cache lines
// from p.
//
//go:noescape
func prefetchLines(p unsafe.Pointer, n int)

// prefetchRows asks the CPU to start loading the first two cache lines of
// each row base + rows[i]*stride.
//
//go:noescape
func prefetchRows(base unsafe.Pointer, rows []uint32, stride int)

// dotF32 is the float32 dot product of two equal-length vectors.
func dotF32(a, b []float32) float32 {
	if hasFMA {
		return dotF32FMA(a, b[:len(a)])
	}
	return dotF32Go(a, b)
}

// dotF32I8FMA is dotF32I8 with AVX2 and FMA for len(a) a multiple of 8;
// len(b) >= len(a).
//
//go:noescape
func dotF32I8FMA(a []float32, b []int8) float32

// dotF32I8 is the dot product of a float32 vector and an equal-length int8
// code vector (without the code's scale).
func dotF32I8(a []float32, b []int8) float32 {
	if !hasFMA {
		return dotF32I8Go(a, b)
	}
	n := len(a) &^ 7
	s := dotF32I8FMA(a[:n], b[:n])
	if n < len(a) {
		s += dotF32I8Go(a[n:], b[n:len(a)])
	}
	return s
}

// dotInt8 is the integer dot product of two equal-length code vectors.
func dotInt8(a, b []int8) int32 {
	if hasAVX2 {
		return dotInt8AVX2(a, b[:len(a)])
	}
	return dotInt8Go(a, b)
}
