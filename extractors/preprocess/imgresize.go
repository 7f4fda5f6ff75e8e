package preprocess

import (
	"encoding/binary"
	"image"
	"math"

	"github.com/disintegration/imaging"
)

// This file is a separable resampler for filters with non-negative weights
// (linear, box). It computes what imaging.Resize computes — the same
// filter windows and normalised weights, colours averaged weighted by
// alpha, the horizontally filtered intermediate rounded to 8-bit NRGBA —
// but in integer fixed point, straight from the source's pixel buffers,
// a few rows at a time, without goroutines. Results equal imaging.Resize's
// but where a sum lies within the weights' rounding error of half a level
// (see TestResizeSeparableMatchesImaging).

// weightBits is the fixed-point precision of filter weights: each output
// sample's weights sum to exactly 1<<weightBits. 22 bits keep a weighted sum
// of 8-bit levels inside uint32 and its rounding error (under 1e-4 of a
// level) too small to tip a rounding the other way but in rare near-ties.
const weightBits = 22

// axisWeights holds the fixed-point filter taps of a 1-D resampling: output
// sample i is Σ w[i][k]·src[start[i]+k] / 2^weightBits.
type axisWeights struct {
	start []int
	w     [][]uint32
	taps  int // the longest window
}

// newAxisWeights mirrors imaging's weight computation for resampling
// srcLen samples to dstLen with filter f: the kernel is stretched by the
// downscale factor, evaluated at each source sample's offset from the
// output sample's centre, and normalised to sum 1. Zero weights at either
// end of a window are dropped. It returns ok=false when a weight is
// negative or a window is empty, which this resampler does not handle.
func newAxisWeights(srcLen, dstLen int, f imaging.ResampleFilter) (aw axisWeights, ok bool) {
	du := float64(srcLen) / float64(dstLen)
	scale := max(du, 1)
	ru := math.Ceil(scale * f.Support)
	aw.start = make([]int, dstLen)
	aw.w = make([][]uint32, dstLen)
	flat := make([]uint32, 0, dstLen*(2*int(ru)+1))
	fw := make([]float64, 0, 2*int(ru)+1)
	for v := 0; v < dstLen; v++ {
		fu := (float64(v)+0.5)*du - 0.5
		begin := max(int(math.Ceil(fu-ru)), 0)
		end := min(int(math.Floor(fu+ru)), srcLen-1)
		fw = fw[:0]
		first := begin
		for u := begin; u <= end; u++ {
			k := f.Kernel((float64(u) - fu) / scale)
			if k < 0 || math.IsNaN(k) {
				return aw, false
			}
			if k == 0 && len(fw) == 0 {
				first = u + 1
				continue
			}
			fw = append(fw, k)
		}
		for len(fw) > 0 && fw[len(fw)-1] == 0 {
			fw = fw[:len(fw)-1]
		}
		if len(fw) == 0 {
			return aw, false
		}
		n := len(flat)
		flat = appendFixedWeights(flat, fw)
		aw.start[v] = first
		aw.w[v] = flat[n:len(flat):len(flat)]
		aw.taps = max(aw.taps, len(fw))
	}
	return aw, true
}

// appendFixedWeights appends the non-negative weights fw, normalised and
// rounded to fixed point, to dst. The rounding remainder goes to the
// largest weight, so that they sum to exactly 1<<weightBits.
func appendFixedWeights(dst []uint32, fw []float64) []uint32 {
	var sum float64
	for _, k := range fw {
		sum += k
	}
	n := len(dst)
	total, big := 0, n
	for _, k := range fw {
		q := uint32(math.Round(k / sum * (1 << weightBits)))
		total += int(q)
		if len(dst) > n && q > dst[big] {
			big = len(dst)
		}
		dst = append(dst, q)
	}
	dst[big] = uint32(int(dst[big]) + (1 << weightBits) - total)
	return dst
}

// rowSource reads an image's rows for the horizontal pass.
type rowSource struct {
	w, h int
	// nc is the channels filtered: 1 (grey), 3 (opaque colour, read
	// with packed) or 4 (RGBA, colours weighted by alpha, read with row).
	nc int
	// premul says a 4-channel row holds alpha-premultiplied colours.
	premul bool
	// row returns row y's bytes: grey levels, or RGBA / NRGBA pixels.
	row func(y int) []uint8
	// packed writes opaque row y as RGBA pixels packed in uint32s, red in
	// the low byte.
	packed func(y int, dst []uint32)
}

// newRowSource supports the types the decoders and preShrink return:
// grey, YCbCr, RGBA and NRGBA. Other types return ok=false.
func newRowSource(img image.Image) (rowSource, bool) {
	b := img.Bounds()
	src := rowSource{w: b.Dx(), h: b.Dy()}
	switch m := img.(type) {
	case *image.Gray:
		src.nc = 1
		src.row = func(y int) []uint8 { return m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:src.w] }
	case *image.NRGBA:
		src.row = func(y int) []uint8 { return m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*src.w] }
		src.setRGBAChannels()
	case *image.RGBA:
		src.row = func(y int) []uint8 { return m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):][:4*src.w] }
		src.premul = true
		src.setRGBAChannels()
	case *image.YCbCr:
		hs, vs, ok := chromaShifts(m.SubsampleRatio)
		if !ok {
			return src, false
		}
		src.nc = 3
		src.packed = func(y int, dst []uint32) { ycbcrRow(m, hs, vs, b.Min.Y+y, dst) }
	default:
		return src, false
	}
	return src, true
}

// setRGBAChannels sets up an RGBA or NRGBA source: as opaque colour when
// every pixel is opaque, so alpha need not weight the colours, else as
// 4-channel RGBA.
func (src *rowSource) setRGBAChannels() {
	src.nc = 4
	for y := 0; y < src.h; y++ {
		row := src.row(y)
		for i := 3; i < len(row); i += 4 {
			if row[i] != 255 {
				return
			}
		}
	}
	src.nc = 3
	src.packed = func(y int, dst []uint32) {
		row := src.row(y)
		dst = dst[:len(row)/4]
		for i := range dst {
			dst[i] = binary.LittleEndian.Uint32(row[4*i:])
		}
	}
}

// chromaShifts returns log2 of the horizontal and vertical chroma
// subsampling of a YCbCr ratio.
func chromaShifts(r image.YCbCrSubsampleRatio) (hs, vs int, ok bool) {
	switch r {
	case image.YCbCrSubsampleRatio444:
		return 0, 0, true
	case image.YCbCrSubsampleRatio422:
		return 1, 0, true
	case image.YCbCrSubsampleRatio420:
		return 1, 1, true
	case image.YCbCrSubsampleRatio440:
		return 0, 1, true
	case image.YCbCrSubsampleRatio411:
		return 2, 0, true
	case image.YCbCrSubsampleRatio410:
		return 2, 1, true
	}
	return 0, 0, false
}

// ycbcrRow converts row y (absolute) of m to opaque RGBA pixels packed in
// uint32s, red in the low byte, with the JFIF full-range conversion in the
// 16.16 fixed point image/color uses (color.YCbCrToRGB), so every pixel
// equals that function's result.
func ycbcrRow(m *image.YCbCr, hs, vs, y int, dst []uint32) {
	w := m.Rect.Dx()
	ys := m.Y[m.YOffset(m.Rect.Min.X, y):][:w]
	// image.YCbCr.COffset with the row part hoisted.
	cOff := (y>>vs-m.Rect.Min.Y>>vs)*m.CStride - m.Rect.Min.X>>hs
	dst = dst[:w]
	x := m.Rect.Min.X
	for i, yv := range ys {
		ci := cOff + x>>hs
		yy := int32(yv) * 0x10101
		cb := int32(m.Cb[ci]) - 128
		cr := int32(m.Cr[ci]) - 128
		r := clamp16(yy + 91881*cr)
		g := clamp16(yy - 22554*cb - 46802*cr)
		b := clamp16(yy + 116130*cb)
		dst[i] = r | g<<8 | b<<16 | 0xff<<24
		x++
	}
}

// clamp16 returns v>>16 clamped to 0..255.
func clamp16(v int32) uint32 {
	if uint32(v)&0xff000000 == 0 {
		return uint32(v >> 16)
	}
	return uint32(^(v >> 31)) & 0xff
}

// resizeSeparable resizes img to w×h with filter f, as imaging.Resize
// does. It returns ok=false for source types and filters it does not
// handle (see newRowSource and newAxisWeights); the caller then uses
// imaging.Resize.
func resizeSeparable(img image.Image, w, h int, f imaging.ResampleFilter) (*image.NRGBA, bool) {
	src, ok := newRowSource(img)
	if !ok || w <= 0 || h <= 0 || src.w <= 0 || src.h <= 0 {
		return nil, false
	}
	hw, ok := newAxisWeights(src.w, w, f)
	if !ok {
		return nil, false
	}
	vw := hw
	if src.h != src.w || h != w {
		if vw, ok = newAxisWeights(src.h, h, f); !ok {
			return nil, false
		}
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	if src.packed != nil {
		resamplePacked(src, &hw, &vw, out)
	} else {
		resample(src, &hw, &vw, out)
	}
	return out, true
}

// ring holds the intermediate (horizontally filtered) rows the vertical
// pass needs, in as many slots as the longest vertical window: windows
// move down monotonically, so each source row is filtered once.
type ring[T any] struct {
	rowLen int
	buf    []T
	have   []int // the source row each slot holds, or -1
}

// newRing makes a ring of slots rows of rowLen values.
func newRing[T any](slots, rowLen int) *ring[T] {
	r := &ring[T]{rowLen: rowLen, buf: make([]T, slots*rowLen), have: make([]int, slots)}
	for i := range r.have {
		r.have[i] = -1
	}
	return r
}

// get returns the slot for source row sy and whether it already holds it.
func (r *ring[T]) get(sy int) (row []T, ok bool) {
	slot := sy % len(r.have)
	row = r.buf[slot*r.rowLen : (slot+1)*r.rowLen]
	ok = r.have[slot] == sy
	r.have[slot] = sy
	return row, ok
}

// resamplePacked is resample for opaque colour sources: pixels stay packed
// in uint32s and are filtered two channels at a time, red and blue in one
// uint64 and green and alpha in another, 32 bits apart (a weighted sum of
// 8-bit levels fits in 8+weightBits = 30 bits).
func resamplePacked(src rowSource, hw, vw *axisWeights, out *image.NRGBA) {
	n := len(hw.w)
	line := make([]uint32, src.w)
	r := newRing[uint32](vw.taps, n)
	rows := make([][]uint32, vw.taps)
	for y, ws := range vw.w {
		for k := range ws {
			row, ok := r.get(vw.start[y] + k)
			if !ok {
				src.packed(vw.start[y]+k, line)
				filterPacked(line, hw, row)
			}
			rows[k] = row
		}
		verticalPacked(rows[:len(ws)], ws, out.Pix[y*out.Stride:][:4*n])
	}
}

// laneMask keeps one byte in each 32-bit half of a uint64.
const laneMask = 0x000000ff_000000ff

// lanes splits a packed RGBA pixel into red|blue and green|alpha lanes.
func lanes(p uint32) (rb, ga uint64) {
	v := uint64(p)
	return (v | v<<16) & laneMask, (v>>8 | v<<8) & laneMask
}

// packLanes rounds lane sums weighted to 1<<weightBits to levels, half
// up, and packs them back into an RGBA pixel.
func packLanes(rb, ga uint64) uint32 {
	const half = 1<<(weightBits-1) | 1<<(weightBits-1+32)
	rb = (rb + half) >> weightBits
	ga = (ga + half) >> weightBits
	return uint32(rb&0xff | ga&0xff<<8 | rb>>32&0xff<<16 | ga>>32&0xff<<24)
}

// filterPacked runs the horizontal pass over a packed row.
func filterPacked(src []uint32, hw *axisWeights, dst []uint32) {
	dst = dst[:len(hw.w)]
	for x, ws := range hw.w {
		s := src[hw.start[x]:][:len(ws)]
		var rb, ga uint64
		for k, wt := range ws {
			prb, pga := lanes(s[k])
			rb += uint64(wt) * prb
			ga += uint64(wt) * pga
		}
		dst[x] = packLanes(rb, ga)
	}
}

// verticalPacked runs the vertical pass for one output row: rows are the
// packed intermediate rows of its window, ws their weights; dst gets
// opaque NRGBA pixels.
func verticalPacked(rows [][]uint32, ws []uint32, dst []uint8) {
	n := len(dst) / 4
	for _, row := range rows {
		_ = row[n-1]
	}
	for x := 0; x < n; x++ {
		var rb, ga uint64
		for k, wt := range ws {
			prb, pga := lanes(rows[k][x])
			rb += uint64(wt) * prb
			ga += uint64(wt) * pga
		}
		binary.LittleEndian.PutUint32(dst[4*x:], packLanes(rb, ga)|0xff<<24)
	}
}

// resample filters a grey or RGBA source horizontally, row by row, into a
// ring of intermediate rows as the vertical pass needs them, and filters
// those vertically into out. Intermediate values are 16-bit: levels for
// grey; colour·alpha and alpha·256 for RGBA.
func resample(src rowSource, hw, vw *axisWeights, out *image.NRGBA) {
	rowLen := len(hw.w) * src.nc
	r := newRing[uint16](vw.taps, rowLen)
	acc := make([]uint64, rowLen)
	rows := make([][]uint16, vw.taps)
	for y, ws := range vw.w {
		for k := range ws {
			row, ok := r.get(vw.start[y] + k)
			if !ok {
				filterRow(src, src.row(vw.start[y]+k), hw, row)
			}
			rows[k] = row
		}
		clear(acc)
		for k, wt := range ws {
			accumulate(acc, rows[k], wt)
		}
		dst := out.Pix[y*out.Stride:][:4*len(hw.w)]
		if src.nc == 1 {
			storeGray(acc, dst)
		} else {
			storeRGBA(acc, dst)
		}
	}
}

// filterRow runs the horizontal pass over one grey or RGBA source row.
func filterRow(src rowSource, row []uint8, hw *axisWeights, dst []uint16) {
	if src.nc == 1 {
		filterRowGray(row, hw, dst)
	} else {
		filterRowRGBA(row, src.premul, hw, dst)
	}
}

// filterRowGray filters a row of grey levels into whole levels.
func filterRowGray(row []uint8, hw *axisWeights, dst []uint16) {
	dst = dst[:len(hw.w)]
	for x, ws := range hw.w {
		s := row[hw.start[x]:][:len(ws)]
		var v uint32
		for k, wt := range ws {
			v += wt * uint32(s[k])
		}
		dst[x] = roundLevel(v)
	}
}

// roundLevel rounds a sum of levels weighted to 1<<weightBits to a whole
// level, half up, as imaging rounds its intermediate image.
func roundLevel(v uint32) uint16 {
	return uint16(min(255, (v+1<<(weightBits-1))>>weightBits))
}

// filterRowRGBA filters a row of RGBA pixels, weighting colours by alpha
// as imaging does, into colour·alpha (0..65025) and alpha·256 (0..65280)
// of the rounded NRGBA pixels (see storePremul).
// premul says the row's colours are premultiplied (image.RGBA); they are
// first un-premultiplied as imaging does, so both agree on such rows too.
func filterRowRGBA(row []uint8, premul bool, hw *axisWeights, dst []uint16) {
	dst = dst[:4*len(hw.w)]
	for x, ws := range hw.w {
		o := hw.start[x] * 4
		var r, g, b, a uint64
		for _, wt := range ws {
			p := row[o : o+4 : o+4]
			pr, pg, pb := uint32(p[0]), uint32(p[1]), uint32(p[2])
			if pa := uint32(p[3]); premul && pa != 255 && pa != 0 {
				// Un-premultiply, truncating, as imaging reads image.RGBA.
				pr, pg, pb = pr*255/pa, pg*255/pa, pb*255/pa
			}
			wa := uint64(wt) * uint64(p[3])
			r += wa * uint64(pr)
			g += wa * uint64(pg)
			b += wa * uint64(pb)
			a += wa
			o += 4
		}
		storePremul(r, g, b, a, dst[4*x:4*x+4:4*x+4])
	}
}

// storePremul rounds colour·alpha and alpha sums, weighted to
// 1<<weightBits, to the 8-bit NRGBA pixel imaging's intermediate image
// holds, and stores that pixel premultiplied: colour·alpha and alpha·256.
func storePremul(r, g, b, a uint64, d []uint16) {
	if a == 0 {
		d[0], d[1], d[2], d[3] = 0, 0, 0, 0
		return
	}
	inv := 1 / float64(a)
	al := uint16(min(255, (a+1<<(weightBits-1))>>weightBits))
	d[0] = uint16(min(255, float64(r)*inv+0.5)) * al
	d[1] = uint16(min(255, float64(g)*inv+0.5)) * al
	d[2] = uint16(min(255, float64(b)*inv+0.5)) * al
	d[3] = al << 8
}

// accumulate adds wt·row to acc, element by element.
func accumulate(acc []uint64, row []uint16, wt uint32) {
	row = row[:len(acc)]
	w := uint64(wt)
	for i, v := range row {
		acc[i] += w * uint64(v)
	}
}

// roundSum rounds a vertical sum of levels weighted to 1<<weightBits to a
// level.
func roundSum(v uint64) uint8 {
	return uint8(min(255, (v+1<<(weightBits-1))>>weightBits))
}

// storeGray writes grey sums as opaque NRGBA pixels.
func storeGray(acc []uint64, dst []uint8) {
	dst = dst[:4*len(acc)]
	for x, v := range acc {
		l := roundSum(v)
		d := dst[4*x : 4*x+4 : 4*x+4]
		d[0], d[1], d[2], d[3] = l, l, l, 255
	}
}

// storeRGBA divides colour·alpha sums by the alpha sum and writes NRGBA
// pixels; where the alpha sum is 0 the pixel is transparent black, as in
// imaging.
func storeRGBA(acc []uint64, dst []uint8) {
	n := len(acc) / 4
	dst = dst[:4*n]
	for x := 0; x < n; x++ {
		s := acc[4*x : 4*x+4 : 4*x+4]
		d := dst[4*x : 4*x+4 : 4*x+4]
		if s[3] == 0 {
			d[0], d[1], d[2], d[3] = 0, 0, 0, 0
			continue
		}
		// Colour sums are colour·alpha·2^weightBits, the alpha sum
		// alpha·2^(weightBits+8).
		inv := 256 / float64(s[3])
		d[0] = uint8(min(255, float64(s[0])*inv+0.5))
		d[1] = uint8(min(255, float64(s[1])*inv+0.5))
		d[2] = uint8(min(255, float64(s[2])*inv+0.5))
		d[3] = uint8(min(255, (s[3]+1<<(weightBits+7))>>(weightBits+8)))
	}
}
