package index

import (
	"math/rand/v2"
	"testing"
)

func TestDotInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 16, 31, 32, 33, 64, 100, 384, 1000} {
		a, b := make([]int8, n), make([]int8, n)
		for i := range a {
			a[i], b[i] = int8(r.IntN(256)-128), int8(r.IntN(256)-128)
		}
		a[0], b[0] = -128, -128 // extremes must not overflow
		var want int32
		for i := range a {
			want += int32(a[i]) * int32(b[i])
		}
		if got := dotInt8(a, b); got != want {
			t.Fatalf("n=%d: dotInt8 = %d, want %d", n, got, want)
		}
		if got := dotInt8Go(a, b); got != want {
			t.Fatalf("n=%d: dotInt8Go = %d, want %d", n, got, want)
		}
	}
}

func TestQuantizeError(t *testing.T) {
	for _, dim := range []int{8, 64, 384} {
		a, b := unit(dim, 1), unit(dim, 2)
		ca, cb := make([]int8, dim), make([]int8, dim)
		sa, sb := quantize(ca, a), quantize(cb, b)
		var exact float32
		for i := range a {
			exact += a[i] * b[i]
		}
		approx := float32(dotInt8(ca, cb)) * sa * sb
		if d := approx - exact; d > 0.02 || d < -0.02 {
			t.Fatalf("dim %d: quantised dot %v, exact %v", dim, approx, exact)
		}
	}
	z := make([]int8, 4)
	if s := quantize(z, make([]float32, 4)); s != 0 {
		t.Fatalf("zero vector scale %v", s)
	}
}
