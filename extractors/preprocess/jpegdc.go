package preprocess

import (
	"encoding/binary"
	"errors"
	"image"
)

// decodeJPEGReduced decodes a baseline JPEG at scale n/8 (n = 1, 2 or 4)
// in the DCT domain, as libjpeg's scaled IDCTs do: of each 8×8 block only
// the top-left n×n dequantised coefficients are kept, and an n-point
// inverse DCT turns them into n×n pixels. That n-point IDCT is the 8-point
// JPEG basis restricted to the n lowest frequencies and sampled at the
// centres of the n×n output pixels (each covering 8/n × 8/n source pixels),
// with the same 1/4·C(u)·C(v) scaling, so a flat block keeps its level. It
// never visits a full-resolution pixel and skips the higher AC
// coefficients with a table lookup instead of storing them.
//
// At n = 1 that is the DC coefficient alone: by the DCT's definition eight
// times the block's mean level, so the 1/8-scale image is the exact 8×8 box
// average of the full image, got without any IDCT (libjpeg's scale 1/8).
// At n = 2 and 4 the output is the band-limited (low n×n frequencies)
// image point-sampled at 1/4 and 1/2 scale: on average within a level of
// the 4×4 or 2×2 box average of the full decode on photos, within three
// on strongly textured pictures, whose detail above n per block it drops.
//
// It handles what product photos use: baseline or extended sequential
// Huffman JPEG (SOF0/SOF1), 8-bit, grey or YCbCr with 4:4:4, 4:2:2, 4:2:0
// or 4:4:0 sampling, restart intervals, one interleaved scan. The result is
// an *image.Gray or an *image.YCbCr of the source's subsampling, of size
// ⌈width·n/8⌉×⌈height·n/8⌉. Anything else (progressive, arithmetic coding,
// CMYK, Adobe RGB, several scans) returns ok=false and the caller decodes
// normally; so does any corruption, so that the standard decoder names the
// error.
func decodeJPEGReduced(data []byte, n int) (img image.Image, ok bool) {
	defer func() {
		if recover() != nil { // never on valid input; fall back, don't crash
			img, ok = nil, false
		}
	}()
	if n != 1 && n != 2 && n != 4 {
		return nil, false
	}
	d := dcDecoder{data: data}
	d.setScale(n)
	im, err := d.decode()
	if err != nil {
		return nil, false
	}
	return im, true
}

// unzig maps a zig-zag index to its natural (row-major) index in the 8×8
// block. Read only.
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

var errDCUnsupported = errors.New("jpeg: not handled by the DC decoder")

type huffTable struct {
	// lut maps the next 8 bits to (code length << 8 | symbol) for codes of
	// up to 8 bits; 0 means a longer code.
	lut     [256]uint16
	maxcode [17]int32 // largest code of each length, -1 if none
	valptr  [17]int32 // index in vals of the first code of each length
	mincode [17]int32
	vals    []byte
	// skip maps the next skipBits bits, for an AC table, to what one
	// coefficient takes when its code and value bits fit in them: bits
	// used (low byte) and how far the coefficient index advances (high
	// byte; skipEOB for end of block). 0 means take the slow path.
	skip [1 << skipBits]uint16
}

// skipBits is the lookahead of huffTable.skip: a code and its value bits
// of up to 12 bits together (most coefficients of a photo) are skipped
// with one lookup.
const skipBits = 12

// skipEOB is huffTable.skip's advance for the end-of-block symbol.
const skipEOB = 0xFF

type dcComponent struct {
	id, h, v, tq int
	td, ta       int
	pred         int32
	plane        []byte
	stride       int // bytes per row of plane: blocks per row × n
	rows         int
}

type dcDecoder struct {
	data []byte
	pos  int

	// Output scale n/8: each block becomes n×n pixels.
	n int
	// kmax is the last zig-zag index kept; slot maps a zig-zag index up to
	// kmax to its place (row·n + column) in the n×n coefficients, or -1.
	kmax int
	slot [64]int8

	width, height  int
	comps          []dcComponent
	quant          [4][64]uint16
	dc, ac         [4]huffTable
	haveDC, haveAC [4]bool
	restart        int
	adobeRGB       bool
	frame          bool

	// bit reader: the next nbits bits, most significant first
	bits      uint64
	nbits     int
	hitMarker bool
	padBytes  int // zero bytes fed past a marker or the end of data
}

// maxPadBytes: a valid scan needs at most a few bytes of lookahead past
// its last block; more means the data ran out (truncated or corrupt).
const maxPadBytes = 16

// maxDCBlocks bounds the blocks of a frame (a 268-megapixel JPEG); the
// reduced image has n×n pixels per block.
const maxDCBlocks = 1 << 22

// setScale prepares the decoder for n×n output per block (n = 1, 2 or 4).
func (d *dcDecoder) setScale(n int) {
	d.n = n
	for k := range d.slot {
		d.slot[k] = -1
		if r, c := int(unzig[k])/8, int(unzig[k])%8; r < n && c < n {
			d.slot[k] = int8(r*n + c)
			d.kmax = k
		}
	}
}

func (d *dcDecoder) u16(i int) int { return int(d.data[i])<<8 | int(d.data[i+1]) }

func (d *dcDecoder) decode() (image.Image, error) {
	if len(d.data) < 4 || d.data[0] != 0xFF || d.data[1] != 0xD8 {
		return nil, errDCUnsupported
	}
	d.pos = 2
	for {
		// Find the next marker.
		if d.pos+4 > len(d.data) {
			return nil, errDCUnsupported
		}
		if d.data[d.pos] != 0xFF {
			return nil, errDCUnsupported
		}
		m := d.data[d.pos+1]
		if m == 0xFF { // fill byte
			d.pos++
			continue
		}
		d.pos += 2
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			continue // no length
		}
		if m == 0xD9 {
			return nil, errDCUnsupported // EOI before a scan
		}
		n := d.u16(d.pos)
		if n < 2 || d.pos+n > len(d.data) {
			return nil, errDCUnsupported
		}
		seg := d.data[d.pos+2 : d.pos+n]
		d.pos += n
		var err error
		switch {
		case m == 0xC0 || m == 0xC1:
			err = d.sof(seg)
		case m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC:
			return nil, errDCUnsupported // progressive, lossless, arithmetic
		case m == 0xC4:
			err = d.dht(seg)
		case m == 0xDB:
			err = d.dqt(seg)
		case m == 0xDD:
			if len(seg) < 2 {
				return nil, errDCUnsupported
			}
			d.restart = int(seg[0])<<8 | int(seg[1])
		case m == 0xEE:
			// Adobe APP14: transform 0 with three components means RGB.
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" && seg[11] == 0 {
				d.adobeRGB = true
			}
		case m == 0xDA:
			return d.scan(seg)
		}
		if err != nil {
			return nil, err
		}
	}
}

func (d *dcDecoder) sof(seg []byte) error {
	if d.frame || len(seg) < 6 || seg[0] != 8 {
		return errDCUnsupported
	}
	d.frame = true
	d.height, d.width = int(seg[1])<<8|int(seg[2]), int(seg[3])<<8|int(seg[4])
	nc := int(seg[5])
	if d.width <= 0 || d.height <= 0 || (nc != 1 && nc != 3) || len(seg) != 6+3*nc ||
		((d.width+7)/8)*((d.height+7)/8) > maxDCBlocks {
		return errDCUnsupported
	}
	for i := 0; i < nc; i++ {
		c := seg[6+3*i:]
		h, v, tq := int(c[1]>>4), int(c[1]&15), int(c[2])
		if h < 1 || h > 2 || v < 1 || v > 2 || tq > 3 {
			return errDCUnsupported
		}
		d.comps = append(d.comps, dcComponent{id: int(c[0]), h: h, v: v, tq: tq})
	}
	if nc == 1 {
		d.comps[0].h, d.comps[0].v = 1, 1 // a lone component is not interleaved
	}
	return nil
}

func (d *dcDecoder) dqt(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 {
			return errDCUnsupported
		}
		n := 64
		if pq == 1 {
			n = 128
		}
		if len(seg) < 1+n {
			return errDCUnsupported
		}
		// Kept in zig-zag order, as the coefficients arrive.
		for k := 0; k < 64; k++ {
			if pq == 1 {
				d.quant[tq][k] = uint16(seg[1+2*k])<<8 | uint16(seg[2+2*k])
			} else {
				d.quant[tq][k] = uint16(seg[1+k])
			}
		}
		seg = seg[1+n:]
	}
	return nil
}

func (d *dcDecoder) dht(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return errDCUnsupported
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return errDCUnsupported
		}
		var counts [17]int
		total := 0
		for l := 1; l <= 16; l++ {
			counts[l] = int(seg[l])
			total += counts[l]
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return errDCUnsupported
		}
		t := huffTable{vals: append([]byte(nil), seg[17:17+total]...)}
		code, k := int32(0), int32(0)
		for l := 1; l <= 16; l++ {
			t.valptr[l] = k
			t.mincode[l] = code
			if counts[l] == 0 {
				t.maxcode[l] = -1
			} else {
				for i := 0; i < counts[l]; i++ {
					if l <= 8 {
						// Every 8-bit prefix starting with this code.
						base := int(code) << (8 - l)
						for j := 0; j < 1<<(8-l); j++ {
							t.lut[base+j] = uint16(l)<<8 | uint16(t.vals[k])
						}
					}
					code++
					k++
				}
				t.maxcode[l] = code - 1
			}
			if code > 1<<l { // over-subscribed code lengths
				return errDCUnsupported
			}
			code <<= 1
		}
		if tc == 0 {
			d.dc[th], d.haveDC[th] = t, true
		} else {
			t.buildSkip(counts)
			d.ac[th], d.haveAC[th] = t, true
		}
		seg = seg[17+total:]
	}
	return nil
}

// buildSkip fills t.skip from the code lengths (counts) of an AC table.
func (t *huffTable) buildSkip(counts [17]int) {
	code, k := 0, 0
	for l := 1; l <= 16; l++ {
		for i := 0; i < counts[l]; i++ {
			rs := t.vals[k]
			r, s := int(rs>>4), int(rs&15)
			adv := r + 1 // run of zeros, then the coefficient
			switch {
			case rs == 0x00:
				adv = skipEOB
			case rs == 0xF0:
				adv = 16
			case s == 0 || s > 10: // undefined symbol, or invalid size: slow path
				adv = 0
			}
			if n := l + s; adv != 0 && n <= skipBits {
				// Every lookahead starting with this code, whatever its
				// value bits and what follows.
				base := code << (skipBits - l)
				for j := 0; j < 1<<(skipBits-l); j++ {
					t.skip[base+j] = uint16(adv)<<8 | uint16(n)
				}
			}
			code++
			k++
		}
		code <<= 1
	}
}

// fill tops the bit buffer up to at least 57 bits (all 64 when it can). At a marker it feeds
// zero bits (and records the marker) so decoding can run to the end of
// the last block.
func (d *dcDecoder) fill() {
	// Fast path: the next 8 bytes hold no 0xFF (no stuffing, no marker),
	// so whole bytes go in at once.
	if !d.hitMarker && d.pos+8 <= len(d.data) {
		w := binary.BigEndian.Uint64(d.data[d.pos:])
		// A byte is 0xFF exactly when its complement is 0x00.
		if x := ^w; (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
			n := (64 - d.nbits) >> 3 // whole bytes that fit
			d.bits |= w >> (64 - 8*n) << (64 - 8*n - d.nbits)
			d.nbits += 8 * n
			d.pos += n
			return
		}
	}
	for d.nbits <= 56 {
		var b byte
		if d.hitMarker || d.pos >= len(d.data) {
			d.padBytes++
		} else {
			b = d.data[d.pos]
			if b == 0xFF {
				if d.pos+1 < len(d.data) && d.data[d.pos+1] == 0x00 {
					d.pos += 2
				} else {
					d.hitMarker = true
					b = 0
				}
			} else {
				d.pos++
			}
		}
		d.bits |= uint64(b) << (56 - d.nbits)
		d.nbits += 8
	}
}

func (d *dcDecoder) getBits(n int) int32 {
	if n == 0 {
		return 0
	}
	if d.nbits < n {
		d.fill()
	}
	v := int32(d.bits >> (64 - n))
	d.bits <<= n
	d.nbits -= n
	return v
}

// receiveExtend reads s bits and sign-extends them (JPEG's EXTEND).
func (d *dcDecoder) receiveExtend(s int) int32 {
	v := d.getBits(s)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

func (d *dcDecoder) huff(t *huffTable) (byte, error) {
	if d.nbits < 16 {
		d.fill()
	}
	if e := t.lut[d.bits>>56]; e != 0 {
		n := int(e >> 8)
		d.bits <<= n
		d.nbits -= n
		return byte(e), nil
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(d.bits>>63)
		d.bits <<= 1
		d.nbits--
		if t.maxcode[l] >= 0 && code <= t.maxcode[l] {
			i := t.valptr[l] + code - t.mincode[l]
			if i < 0 || int(i) >= len(t.vals) {
				return 0, errDCUnsupported
			}
			return t.vals[i], nil
		}
	}
	return 0, errDCUnsupported
}

// block decodes one block's coefficients and writes its n×n pixels to
// dst (row stride stride): the DC level when n = 1, else the n-point IDCT
// of the kept low-frequency coefficients.
func (d *dcDecoder) block(c *dcComponent, dst []byte, stride int) error {
	if d.padBytes > maxPadBytes {
		return errDCUnsupported
	}
	s, err := d.huff(&d.dc[c.td])
	if err != nil {
		return err
	}
	if s > 11 {
		return errDCUnsupported
	}
	if s > 0 {
		c.pred += d.receiveExtend(int(s))
	}
	q := &d.quant[c.tq]
	ac := &d.ac[c.ta]
	var coef [16]int32 // n×n dequantised, row-major; [0] is the DC
	coef[0] = c.pred * int32(q[0])
	flat := true // no kept AC coefficient is non-zero
	k := 1
	// The kept coefficients, values read.
	for k <= d.kmax {
		rs, err := d.huff(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), int(rs&15)
		if s == 0 {
			if r != 15 {
				k = 64 // end of block
				break
			}
			k += 16
			continue
		}
		if s > 10 {
			return errDCUnsupported
		}
		k += r
		v := d.receiveExtend(s)
		if k <= d.kmax {
			if i := d.slot[k]; i >= 0 && v != 0 {
				coef[i] = v * int32(q[k])
				flat = false
			}
		}
		k++
	}
	// The rest, skipped.
	for k < 64 {
		if d.nbits < skipBits {
			d.fill()
		}
		if e := ac.skip[d.bits>>(64-skipBits)]; e != 0 {
			n := e & 0xFF
			d.bits <<= n
			d.nbits -= int(n)
			if e>>8 == skipEOB {
				break
			}
			k += int(e >> 8)
			continue
		}
		rs, err := d.huff(ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), int(rs&15)
		if s == 0 {
			if r != 15 {
				break // end of block
			}
			k += 16
			continue
		}
		if s > 10 {
			return errDCUnsupported
		}
		k += r
		d.getBits(s)
		k++
	}
	if flat {
		// The DC coefficient is 8 × (the block's mean − 128); round to
		// nearest.
		v := byte(max(0, min(255, (int(coef[0])+4)>>3+128)))
		for y := 0; y < d.n; y++ {
			row := dst[y*stride : y*stride+d.n]
			for x := range row {
				row[x] = v
			}
		}
		return nil
	}
	d.idct(&coef, dst, stride)
	return nil
}

// The n-point IDCT basis: C(u)/2 · cos((2x+1)uπ/2n) for output pixel x and
// frequency u, C(0) = 1/√2, C(u) = 1 otherwise. With the same factor on
// both axes, out = Σ 1/4·C(u)C(v)·F(v,u)·cos·cos, the 8-point JPEG
// normalisation, so a flat block (F(0,0) = 8·level) keeps its level.
const (
	idctK0 = 0.35355339059327373 // C(0)/2 = 1/(2√2), every n
	// n = 4: cos(π/8)/2, cos(π/4)/2, cos(3π/8)/2.
	idct4K1 = 0.46193976625564337
	idct4K2 = 0.35355339059327373
	idct4K3 = 0.19134171618254492
	// n = 2: cos(π/4)/2.
	idct2K1 = 0.35355339059327373
)

// idct writes the n×n pixels of the n×n coefficients coef (row-major, row
// = vertical frequency): the separable n-point IDCT, level-shifted by 128,
// rounded and clamped.
func (d *dcDecoder) idct(coef *[16]int32, dst []byte, stride int) {
	if d.n == 2 {
		idct2(coef, dst, stride)
	} else {
		idct4(coef, dst, stride)
	}
}

// idct4 is the 4-point IDCT by even and odd halves: out(x) and out(3−x)
// share the even frequencies' sum and take the odd ones' with either sign.
func idct4(coef *[16]int32, dst []byte, stride int) {
	var t [16]float32 // rows transformed: t[v*4+x]
	for v := 0; v < 4; v++ {
		f := coef[v*4 : v*4+4 : v*4+4]
		f0, f1, f2, f3 := float32(f[0]), float32(f[1]), float32(f[2]), float32(f[3])
		e0, e1 := f0*idctK0+f2*idct4K2, f0*idctK0-f2*idct4K2
		o0, o1 := f1*idct4K1+f3*idct4K3, f1*idct4K3-f3*idct4K1
		r := t[v*4 : v*4+4 : v*4+4]
		r[0], r[1], r[2], r[3] = e0+o0, e1+o1, e1-o1, e0-o0
	}
	_ = dst[3*stride+3]
	for x := 0; x < 4; x++ {
		f0, f1, f2, f3 := t[x], t[4+x], t[8+x], t[12+x]
		e0, e1 := f0*idctK0+f2*idct4K2+128.5, f0*idctK0-f2*idct4K2+128.5
		o0, o1 := f1*idct4K1+f3*idct4K3, f1*idct4K3-f3*idct4K1
		dst[x] = clampByte(e0 + o0)
		dst[stride+x] = clampByte(e1 + o1)
		dst[2*stride+x] = clampByte(e1 - o1)
		dst[3*stride+x] = clampByte(e0 - o0)
	}
}

// idct2 is the 2-point IDCT: sums and differences.
func idct2(coef *[16]int32, dst []byte, stride int) {
	f00, f01 := float32(coef[0])*idctK0, float32(coef[1])*idct2K1
	f10, f11 := float32(coef[2])*idctK0, float32(coef[3])*idct2K1
	r00, r01 := f00+f01, f00-f01 // row v=0 at x = 0, 1
	r10, r11 := f10+f11, f10-f11 // row v=1
	_ = dst[stride+1]
	dst[0] = clampByte(r00*idctK0 + r10*idct2K1 + 128.5)
	dst[1] = clampByte(r01*idctK0 + r11*idct2K1 + 128.5)
	dst[stride] = clampByte(r00*idctK0 - r10*idct2K1 + 128.5)
	dst[stride+1] = clampByte(r01*idctK0 - r11*idct2K1 + 128.5)
}

// clampByte is the floor of v clamped to 0..255 (v already holds the
// rounding half).
func clampByte(v float32) byte {
	return byte(max(0, min(255, v)))
}

func (d *dcDecoder) scan(seg []byte) (image.Image, error) {
	if !d.frame || d.adobeRGB || len(seg) < 1 {
		return nil, errDCUnsupported
	}
	ns := int(seg[0])
	if ns != len(d.comps) || len(seg) != 4+2*ns {
		return nil, errDCUnsupported // one component per scan: not handled
	}
	for i := 0; i < ns; i++ {
		id, tables := int(seg[1+2*i]), seg[2+2*i]
		c := &d.comps[i]
		if c.id != id {
			return nil, errDCUnsupported
		}
		c.td, c.ta = int(tables>>4), int(tables&15)
		if c.td > 3 || c.ta > 3 || !d.haveDC[c.td] || !d.haveAC[c.ta] || d.quant[c.tq][0] == 0 {
			return nil, errDCUnsupported
		}
	}
	if ss, se := seg[1+2*ns], seg[2+2*ns]; ss != 0 || se != 63 {
		return nil, errDCUnsupported
	}
	hmax, vmax := 1, 1
	for _, c := range d.comps {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	mcuW, mcuH := 8*hmax, 8*vmax
	mx, my := (d.width+mcuW-1)/mcuW, (d.height+mcuH-1)/mcuH
	n := d.n
	for i := range d.comps {
		c := &d.comps[i]
		c.stride, c.rows = mx*c.h*n, my*c.v*n
		c.plane = make([]byte, c.stride*c.rows)
	}
	mcus := 0
	for y := 0; y < my; y++ {
		for x := 0; x < mx; x++ {
			if d.restart > 0 && mcus > 0 && mcus%d.restart == 0 {
				if err := d.nextRestart(); err != nil {
					return nil, err
				}
			}
			for i := range d.comps {
				c := &d.comps[i]
				for by := 0; by < c.v; by++ {
					for bx := 0; bx < c.h; bx++ {
						off := (y*c.v+by)*n*c.stride + (x*c.h+bx)*n
						if err := d.block(c, c.plane[off:], c.stride); err != nil {
							return nil, err
						}
					}
				}
			}
			mcus++
		}
	}
	if err := d.endOfImage(); err != nil {
		return nil, err
	}
	w, h := (d.width*n+7)/8, (d.height*n+7)/8
	if len(d.comps) == 1 {
		c := d.comps[0]
		return &image.Gray{Pix: c.plane, Stride: c.stride, Rect: image.Rect(0, 0, w, h)}, nil
	}
	y, cb, cr := d.comps[0], d.comps[1], d.comps[2]
	if cb.h != cr.h || cb.v != cr.v || y.h != hmax || y.v != vmax {
		return nil, errDCUnsupported
	}
	var ratio image.YCbCrSubsampleRatio
	switch [2]int{hmax / cb.h, vmax / cb.v} {
	case [2]int{1, 1}:
		ratio = image.YCbCrSubsampleRatio444
	case [2]int{2, 1}:
		ratio = image.YCbCrSubsampleRatio422
	case [2]int{2, 2}:
		ratio = image.YCbCrSubsampleRatio420
	case [2]int{1, 2}:
		ratio = image.YCbCrSubsampleRatio440
	default:
		return nil, errDCUnsupported
	}
	return &image.YCbCr{
		Y: y.plane, Cb: cb.plane, Cr: cr.plane,
		YStride: y.stride, CStride: cb.stride,
		SubsampleRatio: ratio, Rect: image.Rect(0, 0, w, h),
	}, nil
}

// endOfImage checks that the scan is followed by the EOI marker, as the
// standard decoder requires: a file cut short in its last bytes is refused
// (and the standard decoder names the error) rather than decoded with its
// last blocks padded. Any other marker after the scan (a DNL, a further
// scan or segment) is left to the standard decoder too.
func (d *dcDecoder) endOfImage() error {
	// The bit reader stops at a marker, so none lies before d.pos.
	for i := d.pos; i+1 < len(d.data); i++ {
		if d.data[i] != 0xFF {
			continue
		}
		switch m := d.data[i+1]; {
		case m == 0xD9:
			return nil
		case m == 0x00 || m == 0xFF || (m >= 0xD0 && m <= 0xD7):
			// Stuffed byte, fill byte or a stray restart marker.
		default:
			return errDCUnsupported
		}
	}
	return errDCUnsupported
}

// nextRestart skips to the RSTn marker that ends an interval and resets
// the bit reader and DC predictions.
func (d *dcDecoder) nextRestart() error {
	d.bits, d.nbits = 0, 0
	// The reader may have stopped at the marker or be just before it.
	for d.pos+1 < len(d.data) {
		if d.data[d.pos] == 0xFF {
			m := d.data[d.pos+1]
			if m >= 0xD0 && m <= 0xD7 {
				d.pos += 2
				d.hitMarker, d.padBytes = false, 0
				for i := range d.comps {
					d.comps[i].pred = 0
				}
				return nil
			}
			if m != 0x00 && m != 0xFF {
				return errDCUnsupported
			}
		}
		d.pos++
	}
	return errDCUnsupported
}
