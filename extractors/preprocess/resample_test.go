package preprocess

import (
	"math"
	"testing"
)

// fitSine least-squares fits a*sin + b*cos at freq Hz to x and returns the
// fitted amplitude and the residual energy relative to x's, in dB.
func fitSine(x []float32, freq float64, rate int) (amp, residualDB float64) {
	var ss, sc, cc, xs, xc float64
	w := 2 * math.Pi * freq / float64(rate)
	for i, v := range x {
		s, c := math.Sincos(w * float64(i))
		ss += s * s
		sc += s * c
		cc += c * c
		xs += float64(v) * s
		xc += float64(v) * c
	}
	det := ss*cc - sc*sc
	a := (xs*cc - xc*sc) / det
	b := (xc*ss - xs*sc) / det
	var e, r float64
	for i, v := range x {
		s, c := math.Sincos(w * float64(i))
		d := float64(v) - a*s - b*c
		e += float64(v) * float64(v)
		r += d * d
	}
	return math.Hypot(a, b), 10 * math.Log10(r/e+1e-30)
}

func sine32(n, rate int, freq, amp float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return x
}

func rms(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(x)))
}

// TestResampleKeepsTone: a tone inside the passband keeps its frequency and
// amplitude, and nothing else appears (no images, no aliases): the residual
// after fitting the expected sine is tiny.
func TestResampleKeepsTone(t *testing.T) {
	cases := []struct {
		from, to int
		freq     float64
	}{
		{44100, 16000, 1000},
		{44100, 16000, 6000}, // 75% of the new Nyquist
		{48000, 16000, 3000},
		{22050, 16000, 440},
		{8000, 16000, 1000}, // upsampling: the 7 kHz image must be gone
		{16000, 44100, 2500},
		{44100, 16001, 1000}, // 16001/gcd > 4096 phases: rounded positions
		{96000, 8000, 3000},
	}
	for _, tc := range cases {
		x := sine32(tc.from, tc.from, tc.freq, 0.8) // 1 s
		y := Resample(x, tc.from, tc.to)
		if want := tc.to; len(y) != want {
			t.Fatalf("%d→%d: %d samples, want %d", tc.from, tc.to, len(y), want)
		}
		amp, resid := fitSine(y[len(y)/8:7*len(y)/8], tc.freq, tc.to)
		t.Logf("%d→%d %g Hz: gain %.4f dB, residual %.1f dB", tc.from, tc.to, tc.freq, 20*math.Log10(amp/0.8), resid)
		// The fit starts at y[len/8]; phase does not matter to amplitude.
		if math.Abs(20*math.Log10(amp/0.8)) > 0.05 {
			t.Errorf("%d→%d %g Hz: amplitude %v, want 0.8 ±0.05 dB", tc.from, tc.to, tc.freq, amp)
		}
		if resid > -70 {
			t.Errorf("%d→%d %g Hz: residual %.1f dB, want ≤ -70", tc.from, tc.to, tc.freq, resid)
		}
	}
}

// TestResampleNoAliasing: tones above the new Nyquist frequency must not
// fold back into the output.
func TestResampleNoAliasing(t *testing.T) {
	cases := []struct {
		from, to int
		freq     float64
	}{
		{44100, 16000, 8000},  // exactly the new Nyquist
		{44100, 16000, 10000}, // would alias to 6 kHz
		{44100, 16000, 15000},
		{44100, 16000, 21000},
		{48000, 16000, 9000},
		{22050, 16000, 9500},
		{44100, 16001, 12000},
	}
	for _, tc := range cases {
		x := sine32(tc.from/2, tc.from, tc.freq, 0.8)
		y := Resample(x, tc.from, tc.to)
		// Skip the edges, where the zero padding makes a transient.
		mid := y[len(y)/8 : 7*len(y)/8]
		db := 20 * math.Log10(rms(mid)/rms(x)+1e-12)
		t.Logf("%d→%d, %g Hz: %.1f dB", tc.from, tc.to, tc.freq, db)
		if db > -60 {
			t.Errorf("%d→%d, %g Hz tone: output at %.1f dB relative to input, want ≤ -60 dB", tc.from, tc.to, tc.freq, db)
		}
	}
}

func TestResampleEdges(t *testing.T) {
	if got := Resample(nil, 44100, 16000); len(got) != 0 {
		t.Fatalf("empty input gave %d samples", len(got))
	}
	for _, rates := range [][2]int{{0, 16000}, {16000, 0}, {-1, 16000}, {MaxSampleRate + 1, 16000}} {
		if got := Resample([]float32{1, 2}, rates[0], rates[1]); got != nil {
			t.Errorf("rates %v: want nil, got %v", rates, got)
		}
		if _, err := NewResampler(rates[0], rates[1]); err == nil {
			t.Errorf("rates %v: NewResampler accepted them", rates)
		}
	}
	x := []float32{0.1, -0.2, 0.3}
	same := Resample(x, 16000, 16000)
	if len(same) != 3 || &same[0] == &x[0] || same[1] != x[1] {
		t.Fatalf("equal rates must copy: %v", same)
	}
	r, err := NewResampler(44100, 16000)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 441, 442, 44100} {
		want := int(math.Ceil(float64(n) * 16000 / 44100))
		if got := r.OutputLen(n); got != want {
			t.Errorf("OutputLen(%d) = %d, want %d", n, got, want)
		}
		if got := len(r.Resample(make([]float32, n))); got != want {
			t.Errorf("len(Resample(%d)) = %d, want %d", n, got, want)
		}
	}
	// DC passes with unit gain once clear of the edges.
	dc := make([]float32, 4410)
	for i := range dc {
		dc[i] = 0.25
	}
	y := r.Resample(dc)
	for i := 200; i < len(y)-200; i++ {
		if math.Abs(float64(y[i])-0.25) > 1e-5 {
			t.Fatalf("DC sample %d = %v", i, y[i])
		}
	}
}

// TestBesselI0 checks the polynomial approximation against the power
// series on both sides of its breakpoint.
func TestBesselI0(t *testing.T) {
	series := func(x float64) float64 {
		sum, term := 1.0, 1.0
		for k := 1; k < 500; k++ {
			term *= x * x / 4 / float64(k*k)
			sum += term
		}
		return sum
	}
	for _, x := range []float64{0, 0.5, 1, 2.5, 3.7499, 3.75, 5, 7.857, 12, 20} {
		if got, want := besselI0(x), series(x); math.Abs(got-want) > 3e-7*want {
			t.Errorf("I0(%v) = %v, want %v", x, got, want)
		}
	}
}

// TestResamplerPhaseSymmetry: every phase of the filter bank must equal the
// directly computed kernel, including the mirrored half.
func TestResamplerPhaseSymmetry(t *testing.T) {
	for _, rates := range [][2]int{{44100, 16000}, {22050, 16000}, {8000, 16000}, {44101, 16000}} {
		r, err := NewResampler(rates[0], rates[1])
		if err != nil {
			t.Fatal(err)
		}
		ratio := math.Min(1, float64(rates[1])/float64(rates[0]))
		fc := resampleCutoff * ratio
		beta := 0.1102 * (resampleStopbandDB - 8.7)
		for _, p := range []int{0, 1, r.phases / 3, r.phases / 2, r.phases - 1} {
			row := r.h[p*r.taps : (p+1)*r.taps]
			want := make([]float64, r.taps)
			var sum float64
			for k := range want {
				d := float64(k-r.half+1) - float64(p)/float64(r.phases)
				u := d / float64(r.half)
				if u > -1 && u < 1 {
					want[k] = sinc(2*fc*d) * besselI0(beta*math.Sqrt(1-u*u))
				}
				sum += want[k]
			}
			for k := range want {
				if math.Abs(float64(row[k])-want[k]/sum) > 1e-6 {
					t.Fatalf("%v phase %d tap %d: %v, want %v", rates, p, k, row[k], want[k]/sum)
				}
			}
		}
	}
}
