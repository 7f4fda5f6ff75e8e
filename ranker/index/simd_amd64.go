package index

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// hasAVX2 selects the AVX2 int8 dot product.
var hasAVX2 = cpu.X86.HasAVX2

// dotInt8AVX2 is dotInt8 with AVX2; len(b) >= len(a).
//
//go:noescape
func dotInt8AVX2(a, b []int8) int32

// prefetch asks the CPU to start loading the two cache lines at p.
//
//go:noescape
func prefetch(p unsafe.Pointer)

// dotInt8 is the integer dot product of two equal-length code vectors.
func dotInt8(a, b []int8) int32 {
	if hasAVX2 {
		return dotInt8AVX2(a, b[:len(a)])
	}
	return dotInt8Go(a, b)
}
