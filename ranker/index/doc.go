// Package index owns the ranker's in-memory approximate nearest-neighbour
// indexes over unit-length embedding vectors.
//
// Two implementations share the Index interface:
//
//   - HNSW: a hierarchical navigable small-world graph (Malkov & Yashunin)
//     with vectors in one contiguous float32 slab, neighbour lists in flat
//     []uint32 slabs, lock-free graph reads for searches, per-node locks for
//     concurrent inserts, tombstone deletes with graph repair (Compact), and
//     optional int8 scalar quantisation: QuantInt8 traverses with int8 codes
//     and re-scores with the float vectors; QuantInt8Only keeps the codes
//     alone (about 0.39× the memory of raw float32 vectors at 384
//     dimensions, all overheads counted) and re-scores against the
//     dequantised codes.
//   - Flat: exact brute force, the reference for recall and for small or
//     highly filtered candidate sets.
//
// Scores are dot products of unit vectors (cosine similarity), higher is
// better; on amd64 they are computed with AVX2+FMA assembly (simd_amd64.s),
// elsewhere in portable Go. Filtered searches are exact below a selectivity threshold and use a
// filter-aware graph walk above it. Save writes a versioned, checksummed
// binary snapshot that Load restores. RunBench measures recall, single-core
// throughput, build time and memory against hnswlib and faiss baselines on
// the same vectors.
package index
