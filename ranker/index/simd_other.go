//go:build !amd64

package index

import "unsafe"

func prefetch(unsafe.Pointer) {}

// dotInt8 is the integer dot product of two equal-length code vectors.
func dotInt8(a, b []int8) int32 { return dotInt8Go(a, b) }
