//go:build !amd64

package index

import "unsafe"

func prefetchLines(unsafe.Pointer, int) {}

func prefetchRows(unsafe.Pointer, []uint32, int) {}

// dotF32 is the float32 dot product of two equal-length vectors.
func dotF32(a, b []float32) float32 { return dotF32Go(a, b) }

// dotInt8 is the integer dot product of two equal-length code vectors.
func dotInt8(a, b []int8) int32 { return dotInt8Go(a, b) }

// dotF32I8 is the dot product of a float32 vector and an equal-length int8
// code vector (without the code's scale).
func dotF32I8(a []float32, b []int8) float32 { return dotF32I8Go(a, b) }
