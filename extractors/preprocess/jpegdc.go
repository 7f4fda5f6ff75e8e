package preprocess

import (
	"encoding/binary"
	"errors"
	"image"
)

// decodeJPEGDC decodes a baseline JPEG at 1/8 scale from the DC
// coefficients alone: each 8×8 block's DC coefficient is, by the DCT's
// definition, eight times the block's mean level, so the 1/8-scale image is
// the exact 8×8 box average of the full image, got without any inverse DCT
// and without visiting a full-resolution pixel. This is the DCT-domain
// scaling libjpeg offers as scale 1/8. AC coefficients are still entropy
// decoded (to find the next block) but not stored.
//
// It handles what product photos use: baseline or extended sequential
// Huffman JPEG (SOF0/SOF1), 8-bit, grey or YCbCr with 4:4:4, 4:2:2, 4:2:0
// or 4:4:0 sampling, restart intervals, one interleaved scan. Anything else
// (progressive, arithmetic coding, CMYK, Adobe RGB, several scans) returns
// ok=false and the caller decodes normally; so does any corruption, so that
// the standard decoder names the error.
func decodeJPEGDC(data []byte) (img image.Image, ok bool) {
	defer func() {
		if recover() != nil { // never on valid input; fall back, don't crash
			img, ok = nil, false
		}
	}()
	d := dcDecoder{data: data}
	im, err := d.decode()
	if err != nil {
		return nil, false
	}
	return im, true
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
	stride       int // blocks per row of plane
	rows         int
}

type dcDecoder struct {
	data []byte
	pos  int

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

// maxDCBlocks bounds the 1/8-scale image (a 268-megapixel JPEG).
const maxDCBlocks = 1 << 22

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
		// Only the DC entry (first in zig-zag order) is needed.
		if pq == 1 {
			d.quant[tq][0] = uint16(seg[1])<<8 | uint16(seg[2])
		} else {
			d.quant[tq][0] = uint16(seg[1])
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

// block decodes one block's coefficients, keeping the DC level.
func (d *dcDecoder) block(c *dcComponent) (byte, error) {
	if d.padBytes > maxPadBytes {
		return 0, errDCUnsupported
	}
	s, err := d.huff(&d.dc[c.td])
	if err != nil {
		return 0, err
	}
	if s > 11 {
		return 0, errDCUnsupported
	}
	if s > 0 {
		c.pred += d.receiveExtend(int(s))
	}
	ac := &d.ac[c.ta]
	for k := 1; k < 64; {
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
			return 0, err
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
			return 0, errDCUnsupported
		}
		k += r
		d.getBits(s)
		k++
	}
	// The DC coefficient is 8 × (the block's mean − 128); round to nearest.
	v := (int(c.pred)*int(d.quant[c.tq][0])+4)>>3 + 128
	return byte(max(0, min(255, v))), nil
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
	for i := range d.comps {
		c := &d.comps[i]
		c.stride, c.rows = mx*c.h, my*c.v
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
						v, err := d.block(c)
						if err != nil {
							return nil, err
						}
						c.plane[(y*c.v+by)*c.stride+x*c.h+bx] = v
					}
				}
			}
			mcus++
		}
	}
	w, h := (d.width+7)/8, (d.height+7)/8
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
