package g2p

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// magic starts a serialised model; the last byte is the format version.
const magic = "OMNIG2P\x01"

// seal serialises the model once to compute its Version.
func (m *Model) seal() error {
	var buf bytes.Buffer
	if _, err := m.writeBody(&buf); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	m.version = hex.EncodeToString(sum[:8])
	return nil
}

// WriteTo writes the model in a compact binary form (deflated; tables as
// delta-coded sorted keys) that Read loads.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	return m.writeBody(w)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (m *Model) writeBody(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	if _, err := io.WriteString(cw, magic); err != nil {
		return cw.n, fmt.Errorf("g2p: write model: %w", err)
	}
	zw, err := flate.NewWriter(cw, flate.BestCompression)
	if err != nil {
		return cw.n, fmt.Errorf("g2p: write model: %w", err)
	}
	var b []byte
	b = binary.AppendUvarint(b, uint64(len(m.phones)-1))
	for _, p := range m.phones[1:] {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	s := m.shapes[len(m.shapes)-1]
	b = append(b, byte(s.left), byte(s.right), byte(m.history+1))
	b = binary.AppendUvarint(b, uint64(len(m.chunks)))
	for _, c := range m.chunks {
		b = binary.AppendUvarint(b, uint64(c))
	}
	b = binary.AppendUvarint(b, uint64(m.heldOut.Words))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.heldOut.WordAccuracy))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.heldOut.PhoneErrorRate))
	for _, lv := range m.levels {
		b = binary.AppendUvarint(b, uint64(len(lv.keys)))
		var prev uint64
		for i, k := range lv.keys {
			b = binary.AppendUvarint(b, k-prev)
			prev = k
			b = binary.AppendUvarint(b, uint64(lv.chunks[i]))
		}
	}
	if _, err := zw.Write(b); err != nil {
		return cw.n, fmt.Errorf("g2p: write model: %w", err)
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("g2p: write model: %w", err)
	}
	return cw.n, nil
}

// maxModelBytes bounds what Read inflates.
const maxModelBytes = 256 << 20

// Read loads a model written by WriteTo.
func Read(r io.Reader) (*Model, error) {
	br := bufio.NewReader(r)
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, fmt.Errorf("%w: model header: %v", ErrFormat, err)
	}
	if string(head) != magic {
		return nil, fmt.Errorf("%w: not a g2p model (or another format version)", ErrFormat)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(br), maxModelBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: model body: %v", ErrFormat, err)
	}
	if len(raw) > maxModelBytes {
		return nil, fmt.Errorf("%w: model body over %d bytes", ErrFormat, maxModelBytes)
	}
	d := &decoder{b: raw}
	m := &Model{}
	np := d.uvarint()
	if np == 0 || np > 255 {
		return nil, fmt.Errorf("%w: %d phones", ErrFormat, np)
	}
	m.phones = []string{""}
	for range np {
		n := d.uvarint()
		p := string(d.bytes(n))
		if p == "" || strings.ContainsAny(p, " \t\n") {
			d.fail()
		}
		m.phones = append(m.phones, p)
	}
	left, right, history := int(d.byte()), int(d.byte()), int(d.byte())-1
	cfg := config{left: left, right: right, history: history}
	if left > MaxWindow || right > MaxWindow || cfg.validate() != nil {
		return nil, fmt.Errorf("%w: window %d,%d, history %d", ErrFormat, left, right, history)
	}
	m.history = history
	m.shapes = chain(left, right, history)
	nc := d.uvarint()
	if nc > maxChunks {
		d.fail()
	}
	for i := uint64(0); i < nc && d.err == nil; i++ {
		c := d.uvarint()
		if c > math.MaxUint16 || (i > 0 && uint16(c) <= m.chunks[i-1]) {
			d.fail()
		}
		m.chunks = append(m.chunks, uint16(c))
	}
	m.heldOut.Words = int(d.uvarint())
	m.heldOut.WordAccuracy = math.Float64frombits(d.uint64())
	m.heldOut.PhoneErrorRate = math.Float64frombits(d.uint64())
	m.levels = make([]level, len(m.shapes))
	for k, s := range m.shapes {
		n := d.uvarint()
		if n > uint64(len(raw)) {
			d.fail()
			break
		}
		lv := level{keys: make([]uint64, 0, n), chunks: make([]uint16, 0, n)}
		var prev uint64
		for i := uint64(0); i < n && d.err == nil; i++ {
			delta := d.uvarint()
			if i > 0 && delta == 0 {
				d.fail() // keys are strictly increasing
			}
			prev += delta
			c := d.uvarint()
			bits := letterBits * s.width()
			if s.hist {
				bits += 8
			}
			if prev >= 1<<bits || c > math.MaxUint16 ||
				int(c&0xff) >= len(m.phones) || int(c>>8) >= len(m.phones) {
				d.fail()
			}
			lv.keys = append(lv.keys, prev)
			lv.chunks = append(lv.chunks, uint16(c))
		}
		m.levels[k] = lv
	}
	if d.err == nil && d.off != len(raw) {
		d.fail()
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: model body: %v", ErrFormat, d.err)
	}
	if !slices.IsSortedFunc(m.phones[1:], strings.Compare) {
		return nil, fmt.Errorf("%w: phones not sorted", ErrFormat)
	}
	if err := m.seal(); err != nil {
		return nil, err
	}
	return m, nil
}

var errCorrupt = errors.New("truncated or corrupt")

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail()
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.b) {
		d.fail()
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b)-d.off < 8 {
		d.fail()
		return 0
	}
	d.off += 8
	return binary.LittleEndian.Uint64(d.b[d.off-8:])
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil || n > uint64(len(d.b)-d.off) {
		d.fail()
		return nil
	}
	d.off += int(n)
	return d.b[d.off-int(n) : d.off]
}
