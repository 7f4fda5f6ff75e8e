package index

import "unsafe"

// Stats reports an index's size and memory use. Byte counts cover the
// occupied part of each slab (vectors, links, codes, per-node metadata), an
// estimate for the id strings and the id map, and the visited table of one
// search; reserved but unused slab capacity is not counted.
type Stats struct {
	Nodes       int   // allocated nodes, including tombstones
	Live        int   // live vectors
	Tombstones  int   // deleted or replaced nodes awaiting compaction
	MaxLevel    int   // top HNSW layer
	VectorBytes int64 // float32 vectors
	QuantBytes  int64 // int8 codes and scales
	LinkBytes   int64 // neighbour lists
	NodeBytes   int64 // per-node metadata: level, state, upper offset, lock
	IDBytes     int64 // id strings, node->id table and id map (estimated)
	// ScratchBytes is the visited table one search needs (4 bytes per
	// node slot); each search running at the same time holds its own.
	ScratchBytes int64
	TotalBytes   int64
	// BytesPerVector is TotalBytes / Live.
	BytesPerVector float64
}

func (s *Stats) finish() {
	s.TotalBytes = s.VectorBytes + s.QuantBytes + s.LinkBytes + s.NodeBytes + s.IDBytes + s.ScratchBytes
	if s.Live > 0 {
		s.BytesPerVector = float64(s.TotalBytes) / float64(s.Live)
	}
}

// idBytes estimates the memory of ids: string headers and bytes in the
// node->id table, plus one map entry (16-byte key header, 4-8 byte value,
// control byte, 7/8 load) per id.
func idBytes(ids []string) int64 {
	const mapEntry = (16 + 8 + 1) * 8 / 7
	var b int64
	for _, id := range ids {
		b += int64(unsafe.Sizeof(id)) + int64(len(id)) + mapEntry
	}
	return b
}
