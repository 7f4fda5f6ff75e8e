package preprocess

import (
	"math"

	"github.com/viterin/vek/vek32"
)

// Resampler design. The anti-aliasing / anti-imaging filter is a Kaiser-
// windowed sinc spanning 2*halfTaps samples of the lower of the two rates.
// With halfTaps = 32 and beta for 80 dB, the transition band runs from 0.84
// to 1.0 of the lower Nyquist frequency: everything above the lower
// Nyquist is attenuated by at least ~80 dB, and the passband up to 84% of it
// is flat within a small fraction of a decibel.
const (
	resampleHalfTaps   = 32
	resampleStopbandDB = 80.0
	// resampleCutoff is the -6 dB point as a fraction of the lower rate.
	resampleCutoff = 0.5 - 0.0784/2
	// maxPhases bounds the polyphase table; ratios needing more phases use
	// this many, with each output position rounded to 1/maxPhases of an
	// input sample (timing error below -70 dB even at the band edge).
	maxPhases = 4096
	// maxTable bounds the whole table (phases × taps floats); extreme
	// ratios with very long filters get fewer phases, which costs nothing
	// because their passband is a small fraction of the input band.
	maxTable = 1 << 22
)

// Resampler converts a signal between two fixed sample rates with a
// polyphase windowed-sinc filter. It is immutable after NewResampler and safe
// for concurrent use; build one per rate pair and reuse it.
type Resampler struct {
	from, to int
	l, m     int64 // to/g, from/g: output n sits at input n*m/l
	phases   int
	exact    bool // phases == l: positions are exact rationals
	half     int  // taps either side, in input samples
	taps     int
	h        []float32 // phases × taps, each phase sums to 1
}

// NewResampler builds the filter bank for converting from → to Hz. Rates must
// be positive and at most MaxSampleRate.
func NewResampler(from, to int) (*Resampler, error) {
	if from <= 0 || to <= 0 || from > MaxSampleRate || to > MaxSampleRate {
		return nil, badSpec("resample %d Hz to %d Hz: rates must be in 1..%d", from, to, MaxSampleRate)
	}
	g := gcd(from, to)
	r := &Resampler{from: from, to: to, l: int64(to / g), m: int64(from / g)}
	if from == to {
		return r, nil
	}
	ratio := 1.0 // min(1, to/from): the filter scales with the lower rate
	if to < from {
		ratio = float64(to) / float64(from)
	}
	r.half = int(math.Ceil(resampleHalfTaps / ratio))
	r.taps = 2 * r.half
	r.phases = min(maxPhases, max(64, maxTable/r.taps))
	if r.l <= int64(r.phases) {
		r.phases, r.exact = int(r.l), true
	}
	fc := resampleCutoff * ratio // cycles per input sample
	beta := 0.1102 * (resampleStopbandDB - 8.7)
	i0b := besselI0(beta)
	r.h = make([]float32, r.phases*r.taps)
	tmp := make([]float64, r.taps)
	// The kernel is even, so phase P-p is phase p reversed: compute the
	// first half of the phases and mirror the rest.
	for p := 0; p <= r.phases/2; p++ {
		frac := float64(p) / float64(r.phases)
		var sum float64
		for k := range tmp {
			d := float64(k-r.half+1) - frac // tap distance from the output instant
			u := d / float64(r.half)
			var w float64
			if u > -1 && u < 1 {
				w = besselI0(beta*math.Sqrt(1-u*u)) / i0b
			}
			v := 2 * fc * sinc(2*fc*d) * w
			tmp[k] = v
			sum += v
		}
		row := r.h[p*r.taps : (p+1)*r.taps]
		for k, v := range tmp {
			row[k] = float32(v / sum)
		}
		if q := r.phases - p; p > 0 && q != p {
			mirror := r.h[q*r.taps : (q+1)*r.taps]
			for k, v := range row {
				mirror[r.taps-1-k] = v
			}
		}
	}
	return r, nil
}

// OutputLen is the number of samples Resample returns for n input samples:
// ceil(n * to / from).
func (r *Resampler) OutputLen(n int) int {
	return int((int64(n)*r.l + r.m - 1) / r.m)
}

// Resample converts x; the first output sample is aligned with the first
// input sample (no delay). Samples beyond both ends count as silence.
func (r *Resampler) Resample(x []float32) []float32 {
	if r.from == r.to {
		return append([]float32(nil), x...)
	}
	out := make([]float32, r.OutputLen(len(x)))
	scratch := make([]float32, r.taps)
	for n := range out {
		num := int64(n) * r.m
		i0 := num / r.l
		var ph int
		if r.exact {
			ph = int(num % r.l)
		} else {
			ph = int((num%r.l*int64(r.phases) + r.l/2) / r.l)
			if ph == r.phases {
				i0, ph = i0+1, 0
			}
		}
		h := r.h[ph*r.taps : (ph+1)*r.taps]
		start := int(i0) - r.half + 1
		if start >= 0 && start+r.taps <= len(x) {
			out[n] = vek32.Dot(x[start:start+r.taps], h)
			continue
		}
		// Near the edges: zero-pad.
		for k := range scratch {
			j := start + k
			if j >= 0 && j < len(x) {
				scratch[k] = x[j]
			} else {
				scratch[k] = 0
			}
		}
		out[n] = vek32.Dot(scratch, h)
	}
	return out
}

// Resample converts x from one sample rate to another with a band-limited
// (Kaiser-windowed sinc, polyphase) filter: content above the lower of the
// two Nyquist frequencies is removed rather than aliased. It returns nil when
// either rate is outside 1..MaxSampleRate, and a copy when they are equal.
// Use NewResampler to reuse the filter bank across calls.
func Resample(x []float32, from, to int) []float32 {
	r, err := NewResampler(from, to)
	if err != nil {
		return nil
	}
	return r.Resample(x)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// besselI0 is the zeroth-order modified Bessel function of the first kind,
// by the polynomial approximations of Abramowitz & Stegun 9.8.1 and 9.8.2
// (relative error below 2e-7, ample for float32 filter taps).
func besselI0(x float64) float64 {
	ax := math.Abs(x)
	if ax < 3.75 {
		t := x / 3.75
		t *= t
		return 1 + t*(3.5156229+t*(3.0899424+t*(1.2067492+t*(0.2659732+t*(0.0360768+t*0.0045813)))))
	}
	t := 3.75 / ax
	p := 0.39894228 + t*(0.01328592+t*(0.00225319+t*(-0.00157565+t*(0.00916281+
		t*(-0.02057706+t*(0.02635537+t*(-0.01647633+t*0.00392377)))))))
	return math.Exp(ax) / math.Sqrt(ax) * p
}
