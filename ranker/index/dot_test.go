package index

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDotF32 checks the float32 dot products (assembly where the CPU has
// it, and the portable one) against a float64 reference, for lengths that
// hit every block and remainder path, with operands at unaligned offsets.
func TestDotF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	impls := []struct {
		name string
		fn   func(a, b []float32) float32
	}{
		{"dotF32", dotF32},
		{"dotF32Go", dotF32Go},
	}
	for _, n := range []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 384, 385, 768, 1023, 1024} {
		for _, off := range []int{0, 1, 3} {
			a := make([]float32, n+off)[off:]
			b := make([]float32, n+off+5)[off:] // longer b: only b[:len(a)] counts
			for i := range a {
				a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			}
			for i := len(a); i < len(b); i++ {
				b[i] = float32(math.NaN()) // must never be read
			}
			var want, mag float64
			for i := range a {
				want += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			for _, im := range impls {
				got := float64(im.fn(a, b))
				if tol := 1e-5*mag + 1e-30; math.Abs(got-want) > tol || math.IsNaN(got) {
					t.Errorf("%s n=%d off=%d: got %v, want %v (tolerance %v)", im.name, n, off, got, want, tol)
				}
			}
		}
	}
}

// TestDotF32I8 checks the float32 × int8 dot products against a float64
// reference.
func TestDotF32I8(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	impls := []struct {
		name string
		fn   func(a []float32, b []int8) float32
	}{
		{"dotF32I8", dotF32I8},
		{"dotF32I8Go", dotF32I8Go},
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 384, 1023} {
		a := make([]float32, n)
		b := make([]int8, n+3)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), int8(r.IntN(256)-128)
		}
		b[n], b[n+1], b[n+2] = 127, 127, 127 // beyond len(a): must not count
		var want, mag float64
		for i := range a {
			want += float64(a[i]) * float64(b[i])
			mag += math.Abs(float64(a[i]) * float64(b[i]))
		}
		for _, im := range impls {
			got := float64(im.fn(a, b))
			if tol := 1e-5*mag + 1e-30; math.Abs(got-want) > tol {
				t.Errorf("%s n=%d: got %v, want %v (tolerance %v)", im.name, n, got, want, tol)
			}
		}
	}
}

func BenchmarkDotF32(b *testing.B) {
	x, y := unit(384, 1), unit(384, 2)
	for _, im := range []struct {
		name string
		fn   func(a, b []float32) float32
	}{{"dotF32", dotF32}, {"dotF32Go", dotF32Go}} {
		b.Run(im.name, func(b *testing.B) {
			var s float32
			for b.Loop() {
				s += im.fn(x, y)
			}
			_ = s
		})
	}
}
