package index

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"unsafe"
)

// Snapshot format (little endian):
//
//	magic "ORNXIDX\x00" | version u32 | kind u32 | 12 × u64 header fields |
//	header CRC-32C u32 | body | CRC-32C u32 of everything before it
//
// The header checksum lets Load reject a damaged header before allocating
// anything it describes; the trailing checksum covers the whole file.
//
// Version 1 stores HNSW vectors as float32 (QuantNone, QuantInt8: codes are
// recomputed on load). Version 2 is written only for QuantInt8Only and
// stores the int8 codes and float32 scales in their place; everything else
// is laid out as in version 1. Save writes the lowest version that can hold
// the index, so snapshots without QuantInt8Only still load in older
// binaries, and Load reads both.
const (
	snapMagic    = "ORNXIDX\x00"
	snapVersion  = 1 // float32 vectors
	snapVersion2 = 2 // int8 codes and scales instead of float32 vectors
	kindFlat     = 1
	kindHNSW     = 2
	headerFields = 12
	chunkElems   = 1 << 14
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type snapWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	buf []byte
	err error
}

func newSnapWriter(w io.Writer) *snapWriter {
	return &snapWriter{w: bufio.NewWriterSize(w, 1<<16), crc: crc32.New(castagnoli), buf: make([]byte, 4*chunkElems)}
}

func (s *snapWriter) write(p []byte) {
	if s.err != nil {
		return
	}
	s.crc.Write(p)
	_, s.err = s.w.Write(p)
}

func (s *snapWriter) u32(v uint32) { s.write(binary.LittleEndian.AppendUint32(s.buf[:0], v)) }
func (s *snapWriter) u64(v uint64) { s.write(binary.LittleEndian.AppendUint64(s.buf[:0], v)) }

func (s *snapWriter) bytes(p []byte) {
	s.u32(uint32(len(p)))
	s.write(p)
}

func (s *snapWriter) u32s(v []uint32) {
	for len(v) > 0 {
		n := min(len(v), chunkElems)
		b := s.buf[:0]
		for _, x := range v[:n] {
			b = binary.LittleEndian.AppendUint32(b, x)
		}
		s.write(b)
		v = v[n:]
	}
}

func (s *snapWriter) f32s(v []float32) {
	for len(v) > 0 {
		n := min(len(v), chunkElems)
		b := s.buf[:0]
		for _, x := range v[:n] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		s.write(b)
		v = v[n:]
	}
}

func (s *snapWriter) header(version, kind uint32, fields [headerFields]uint64) {
	s.write([]byte(snapMagic))
	s.u32(version)
	s.u32(kind)
	for _, f := range fields {
		s.u64(f)
	}
	s.u32(s.crc.Sum32())
}

func (s *snapWriter) finish() error {
	sum := s.crc.Sum32()
	if s.err == nil {
		_, s.err = s.w.Write(binary.LittleEndian.AppendUint32(nil, sum))
	}
	if s.err == nil {
		s.err = s.w.Flush()
	}
	if s.err != nil {
		return fmt.Errorf("save index: %w", s.err)
	}
	return nil
}

type snapReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	buf []byte
	err error
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

func (s *snapReader) read(n int) []byte {
	if s.err != nil {
		return nil
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	p := s.buf[:n]
	if _, err := io.ReadFull(s.r, p); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			s.err = corrupt("truncated")
		} else {
			s.err = err
		}
		return nil
	}
	s.crc.Write(p)
	return p
}

func (s *snapReader) u32() uint32 {
	p := s.read(4)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(p)
}

func (s *snapReader) u64() uint64 {
	p := s.read(8)
	if p == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(p)
}

// bytesN reads a length-prefixed byte string of at most limit bytes.
func (s *snapReader) bytesN(limit int) []byte {
	n := s.u32()
	if s.err != nil {
		return nil
	}
	if int(n) > limit {
		s.err = corrupt("string of %d bytes over limit %d", n, limit)
		return nil
	}
	return s.read(int(n))
}

// u32s reads n words, growing the slice as data arrives so that a lying
// length cannot force a huge allocation before the data runs out.
func (s *snapReader) u32s(n int) []uint32 {
	out := make([]uint32, 0, min(n, 1<<22))
	for len(out) < n && s.err == nil {
		c := min(n-len(out), chunkElems)
		p := s.read(4 * c)
		for i := 0; p != nil && i < c; i++ {
			out = append(out, binary.LittleEndian.Uint32(p[4*i:]))
		}
	}
	return out
}

// bytesChunked reads n raw bytes in chunks (see u32s).
func (s *snapReader) bytesChunked(n int) []byte {
	out := make([]byte, 0, min(n, 1<<22))
	for len(out) < n && s.err == nil {
		out = append(out, s.read(min(n-len(out), 4*chunkElems))...)
	}
	return out
}

func (s *snapReader) f32s(n int) []float32 {
	out := make([]float32, 0, min(n, 1<<22))
	for len(out) < n && s.err == nil {
		c := min(n-len(out), chunkElems)
		p := s.read(4 * c)
		for i := 0; p != nil && i < c; i++ {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:])))
		}
	}
	return out
}

// header reads and checks the magic, version and header checksum, and
// returns the version, kind and fields.
func (s *snapReader) header() (uint32, uint32, [headerFields]uint64, error) {
	var f [headerFields]uint64
	m := s.read(len(snapMagic))
	if s.err != nil {
		return 0, 0, f, s.err
	}
	if string(m) != snapMagic {
		return 0, 0, f, corrupt("bad magic %q", m)
	}
	ver := s.u32()
	kind := s.u32()
	for i := range f {
		f[i] = s.u64()
	}
	want := s.crc.Sum32()
	got := s.u32()
	if s.err != nil {
		return 0, 0, f, s.err
	}
	if got != want {
		return 0, 0, f, corrupt("header checksum %08x, want %08x", got, want)
	}
	if ver != snapVersion && ver != snapVersion2 {
		return 0, 0, f, corrupt("unsupported version %d", ver)
	}
	return ver, kind, f, nil
}

// finish checks the trailing checksum.
func (s *snapReader) finish() error {
	if s.err != nil {
		return s.err
	}
	want := s.crc.Sum32()
	var b [4]byte
	if _, err := io.ReadFull(s.r, b[:]); err != nil {
		return corrupt("truncated checksum")
	}
	if got := binary.LittleEndian.Uint32(b[:]); got != want {
		return corrupt("checksum %08x, want %08x", got, want)
	}
	return nil
}

const maxIDLen = 1 << 16

// Load restores an index written by Save (HNSW or Flat). A truncated,
// damaged or foreign snapshot gives an error wrapping ErrCorrupt.
func Load(r io.Reader) (Index, error) {
	s := &snapReader{r: bufio.NewReaderSize(r, 1<<16), crc: crc32.New(castagnoli)}
	ver, kind, f, err := s.header()
	if err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	var ix Index
	switch {
	case kind == kindFlat && ver == snapVersion:
		ix, err = loadFlat(s, f)
	case kind == kindHNSW:
		ix, err = loadHNSW(s, ver, f)
	default:
		err = corrupt("unknown index kind %d", kind)
	}
	if err == nil {
		err = s.finish()
	}
	if err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	return ix, nil
}

// Save writes a snapshot of the flat index.
func (f *Flat) Save(w io.Writer) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := newSnapWriter(w)
	s.header(snapVersion, kindFlat, [headerFields]uint64{uint64(f.dim), uint64(len(f.keys))})
	for _, id := range f.keys {
		s.bytes([]byte(id))
	}
	s.f32s(f.vecs)
	return s.finish()
}

func loadFlat(s *snapReader, h [headerFields]uint64) (*Flat, error) {
	dim, n := h[0], h[1]
	if dim == 0 || dim > 1<<16 || n > maxCapacity {
		return nil, corrupt("flat dim %d, n %d out of range", dim, n)
	}
	f := NewFlat(int(dim))
	for i := 0; i < int(n) && s.err == nil; i++ {
		id := string(s.bytesN(maxIDLen))
		if s.err != nil {
			break
		}
		if _, dup := f.ids[id]; dup || id == "" {
			return nil, corrupt("empty or duplicate id %q", id)
		}
		f.ids[id] = len(f.keys)
		f.keys = append(f.keys, id)
	}
	f.vecs = s.f32s(int(n) * int(dim))
	if s.err != nil {
		return nil, s.err
	}
	return f, nil
}

// Save writes a snapshot of the graph as it is, tombstones included, so
// that Load gives back an index answering every search identically. It
// blocks inserts and searches while it writes; write to a buffer or local
// file rather than a slow network stream.
func (h *HNSW) Save(w io.Writer) error {
	h.growMu.Lock()
	defer h.growMu.Unlock()
	h.idMu.Lock()
	defer h.idMu.Unlock()
	n := int(h.nodes.Load())
	rng, err := h.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save index: %w", err)
	}
	s := newSnapWriter(w)
	ver := uint32(snapVersion)
	if !h.quant.hasFloats() {
		ver = snapVersion2
	}
	s.header(ver, kindHNSW, [headerFields]uint64{
		uint64(h.dim), uint64(h.m), uint64(h.efc), uint64(h.quant), h.seed,
		uint64(n), uint64(h.upperLen), h.entry.Load(), uint64(h.tombstones),
		uint64(len(h.ids)), math.Float64bits(h.compact),
	})
	s.bytes(rng)
	s.write(h.levels[:n])
	st := make([]byte, n)
	for i := range st {
		st[i] = byte(h.state[i])
	}
	s.write(st)
	for _, id := range h.nodeIDs[:n] {
		s.bytes([]byte(id))
	}
	s.u32s(h.links0[:n*(h.m0+1)])
	s.u32s(h.upper[:h.upperLen])
	if ver == snapVersion {
		s.f32s(h.vecs[:n*h.dim])
	} else {
		s.write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(h.codes))), n*h.dim))
		s.f32s(h.scales[:n])
	}
	return s.finish()
}

func loadHNSW(s *snapReader, ver uint32, f [headerFields]uint64) (*HNSW, error) {
	dim, m, efc, quant, seed := f[0], f[1], f[2], Quantization(f[3]), f[4]
	n, upperLen, entry, tomb, live := f[5], f[6], f[7], f[8], f[9]
	compactRatio := math.Float64frombits(f[10])
	switch {
	case dim == 0 || dim > 1<<16:
		return nil, corrupt("dim %d", dim)
	case m < minM || m > maxM:
		return nil, corrupt("M %d", m)
	case efc < 1 || efc > maxEfConstruction:
		return nil, corrupt("efConstruction %d", efc)
	case !quant.valid() || quant.hasFloats() != (ver == snapVersion):
		return nil, corrupt("quantization %d in a version %d snapshot", quant, ver)
	case n > maxCapacity || live+tomb != n:
		return nil, corrupt("node counts n=%d live=%d tombstones=%d", n, live, tomb)
	case upperLen > n*maxLevel*(m+1):
		return nil, corrupt("upper links %d", upperLen)
	case !(compactRatio >= 0 && compactRatio <= 10):
		return nil, corrupt("auto-compact ratio %v", compactRatio)
	}
	cfg := config{m: int(m), efConstruction: int(efc), quant: quant, seed: seed, compactRatio: compactRatio}
	h := newHNSW(int(dim), cfg)
	if err := h.pcg.UnmarshalBinary(s.bytesN(64)); s.err == nil && err != nil {
		return nil, corrupt("generator state: %v", err)
	}
	nn := int(n)
	levels := s.bytesChunked(nn)
	states := s.bytesChunked(nn)
	ids := make([]string, 0, min(nn, 1<<20))
	for i := 0; i < nn && s.err == nil; i++ {
		ids = append(ids, string(s.bytesN(maxIDLen)))
	}
	links0 := s.u32s(nn * (h.m0 + 1))
	upper := s.u32s(int(upperLen))
	var vecs, scales []float32
	var codes []byte
	if ver == snapVersion {
		vecs = s.f32s(nn * int(dim))
	} else {
		codes = s.bytesChunked(nn * int(dim))
		scales = s.f32s(nn)
	}
	if s.err != nil {
		return nil, s.err
	}
	for i, sc := range scales {
		if !(sc >= 0 && sc <= math.MaxFloat32) {
			return nil, corrupt("node %d code scale %v", i, sc)
		}
	}
	// Structural checks: nothing below may index out of range later.
	h.resize(nn, int(upperLen))
	copy(h.levels, levels)
	copy(h.vecs, vecs)
	if codes != nil {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(h.codes))), len(h.codes)), codes)
		copy(h.scales, scales)
	}
	copy(h.links0, links0)
	copy(h.upper, upper)
	off := 0
	for i := 0; i < nn; i++ {
		if levels[i] > maxLevel {
			return nil, corrupt("node %d level %d", i, levels[i])
		}
		if levels[i] > 0 {
			h.upperOff[i] = uint32(off)
			off += int(levels[i]) * int(m+1)
		}
		switch uint32(states[i]) {
		case stateLive:
			if ids[i] == "" {
				return nil, corrupt("node %d has an empty id", i)
			}
			if _, dup := h.ids[ids[i]]; dup {
				return nil, corrupt("duplicate id %q", ids[i])
			}
			h.ids[ids[i]] = uint32(i)
		case stateDeleted:
		default:
			return nil, corrupt("node %d state %d", i, states[i])
		}
		h.state[i] = uint32(states[i])
		h.nodeIDs[i] = ids[i]
	}
	if off != int(upperLen) || len(h.ids) != int(live) {
		return nil, corrupt("upper links %d (want %d) or live ids %d (want %d)", off, upperLen, len(h.ids), live)
	}
	h.upperLen = off
	h.tombstones = int(tomb)
	h.nodes.Store(uint32(nn))
	for i := 0; i < nn; i++ {
		for lc := 0; lc <= int(levels[i]); lc++ {
			list, o, capacity := h.linkList(uint32(i), lc)
			cnt := int(list[o])
			if cnt > capacity {
				return nil, corrupt("node %d layer %d has %d links", i, lc, cnt)
			}
			for j := 1; j <= cnt; j++ {
				if nb := list[o+j]; int(nb) >= nn || int(levels[nb]) < lc {
					return nil, corrupt("node %d layer %d links to %d", i, lc, nb)
				}
			}
		}
	}
	if nn == 0 {
		if entry != 0 {
			return nil, corrupt("entry point in an empty graph")
		}
	} else {
		ep, top := uint32(entry>>32), int(uint32(entry))-1
		if int(ep) >= nn || top != int(levels[ep]) {
			return nil, corrupt("entry point %d level %d", ep, top)
		}
		h.entry.Store(entry)
	}
	if quant == QuantInt8 {
		for i := 0; i < nn; i++ {
			h.scales[i] = quantize(h.code(uint32(i)), h.vec(uint32(i)))
		}
	}
	return h, nil
}
