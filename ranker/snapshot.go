package ranker

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/ranker/index"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
)

// SnapshotStore is where a ranker keeps index snapshots: the bucket.
// storage.ObjectStore (and so *storage.S3Store) satisfies it.
type SnapshotStore interface {
	// PutStream stores exactly size bytes read from r under key.
	PutStream(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// GetObject returns the content of key, failing when it is larger than
	// maxBytes.
	GetObject(ctx context.Context, key string, maxBytes int64) ([]byte, error)
	// List returns every key starting with prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// DeleteObject removes key; a missing key is not an error.
	DeleteObject(ctx context.Context, key string) error
}

var _ SnapshotStore = storage.ObjectStore(nil)

// ErrCorruptSnapshot marks a snapshot that cannot be used: a missing part,
// a checksum mismatch, a manifest that disagrees with its objects or with
// the stream. The ranker skips such a snapshot and falls back to an older
// one, then to a full replay.
var ErrCorruptSnapshot = errors.New("ranker: unusable snapshot")

// A snapshot of space S reflecting stream sequence Q, written at unix
// milliseconds T, is three objects under storage.SnapshotsPrefix+S+"/":
//
//	T-Q.idx   the index as index.Index.Save writes it
//	T-Q.revs  the revision of every product applied (tombstones included)
//	T-Q.json  the manifest, written last: a snapshot without one is
//	          incomplete and never loaded
const (
	snapFormat      = 1
	snapIdxExt      = ".idx"
	snapRevsExt     = ".revs"
	snapManifestExt = ".json"
	revsMagic       = "ORNXREV1"
	maxManifest     = 1 << 20
	maxSnapshotSize = 1 << 40
	// snapshotCloseTimeout bounds the snapshots Close writes.
	snapshotCloseTimeout = 5 * time.Minute
)

// snapshotManifest is the JSON manifest of one snapshot.
type snapshotManifest struct {
	Format int    `json:"format"`
	Space  string `json:"space"`
	// Seq is the highest EMB stream sequence of the space the snapshot
	// reflects; a replica loading it resumes at Seq+1.
	Seq uint64 `json:"seq"`
	// Count is the number of live vectors, Dim their length.
	Count   int       `json:"count"`
	Dim     int       `json:"dim"`
	Created time.Time `json:"created"`
	// Checksum ("sha256:<hex>") and Size of the .idx object.
	Checksum string `json:"checksum"`
	Size     int64  `json:"size"`
	// Revisions is the number of products in the .revs object (tombstones
	// included), RevisionsChecksum and RevisionsSize describe it.
	Revisions         int    `json:"revisions"`
	RevisionsChecksum string `json:"revisions_checksum"`
	RevisionsSize     int64  `json:"revisions_size"`
	// StreamCreated identifies the EMB stream the sequence belongs to: a
	// stream deleted and created again restarts its sequences, and a
	// snapshot of the old one must not be resumed on the new one.
	StreamCreated time.Time `json:"stream_created"`
}

// snapState is the snapshot bookkeeping of one space.
type snapState struct {
	// Set before the space is published in Ranker.spaces, read-only after.
	loadedKey string
	loadedSeq uint64
	fallbacks int
	streamAt  time.Time

	replayFrom atomic.Uint64
	saved      atomic.Uint64 // sequence of the last snapshot loaded or written
	written    atomic.Int64
	failed     atomic.Int64
	pause      atomic.Int64 // ns the last snapshot held the space (and its index) still
}

type snapshotConfig struct {
	store SnapshotStore
	every time.Duration
	keep  int
	dir   string
}

// WithSnapshots makes the ranker write each followed space's index to
// store every interval (when the space changed since its last snapshot)
// and on Close, and start each space from its newest usable snapshot
// instead of replaying the whole embedding stream.
func WithSnapshots(store SnapshotStore, every time.Duration) Option {
	return func(c *config) error {
		if store == nil {
			return optErr("nil snapshot store")
		}
		if every <= 0 {
			return optErr("snapshot interval must be > 0, got %v", every)
		}
		c.snap.store, c.snap.every = store, every
		return nil
	}
}

// WithSnapshotRetention sets how many snapshots of each space are kept in
// the bucket (default 3).
func WithSnapshotRetention(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return optErr("snapshot retention must be >= 1, got %d", n)
		}
		c.snap.keep = n
		return nil
	}
}

// WithSnapshotDir sets the local folder where a snapshot is staged before
// upload (default: the system temporary folder).
func WithSnapshotDir(dir string) Option {
	return func(c *config) error {
		if dir == "" {
			return optErr("empty snapshot dir")
		}
		c.snap.dir = dir
		return nil
	}
}

// snapshotPrefix is the folder of a space's snapshots.
func snapshotPrefix(space string) string { return storage.SnapshotsPrefix + space + "/" }

// snapName identifies one snapshot: its base key without extension.
type snapName struct {
	base    string
	ms, seq uint64
}

// parseSnapName parses "<prefix><ms>-<seq><ext>".
func parseSnapName(prefix, key string) (snapName, string, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return snapName{}, "", false
	}
	dot := strings.IndexByte(rest, '.')
	if dot < 0 {
		return snapName{}, "", false
	}
	stem, ext := rest[:dot], rest[dot:]
	msStr, seqStr, ok := strings.Cut(stem, "-")
	if !ok {
		return snapName{}, "", false
	}
	ms, err1 := strconv.ParseUint(msStr, 10, 64)
	seq, err2 := strconv.ParseUint(seqStr, 10, 64)
	if err1 != nil || err2 != nil {
		return snapName{}, "", false
	}
	return snapName{base: prefix + stem, ms: ms, seq: seq}, ext, true
}

// newestFirst orders snapshots by sequence, then time, newest first.
func newestFirst(a, b snapName) int {
	if c := cmp.Compare(b.seq, a.seq); c != 0 {
		return c
	}
	return cmp.Compare(b.ms, a.ms)
}

// listSnapshots returns the complete snapshots of a space (those with a
// manifest), newest first, and the incomplete ones.
func listSnapshots(ctx context.Context, st SnapshotStore, space string) (complete, partial []snapName, err error) {
	prefix := snapshotPrefix(space)
	keys, err := st.List(ctx, prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("list snapshots of space %s: %w", space, err)
	}
	byBase := map[string]snapName{}
	hasManifest := map[string]bool{}
	for _, k := range keys {
		n, ext, ok := parseSnapName(prefix, k)
		if !ok {
			continue
		}
		byBase[n.base] = n
		if ext == snapManifestExt {
			hasManifest[n.base] = true
		}
	}
	for base, n := range byBase {
		if hasManifest[base] {
			complete = append(complete, n)
		} else {
			partial = append(partial, n)
		}
	}
	slices.SortFunc(complete, newestFirst)
	slices.SortFunc(partial, newestFirst)
	return complete, partial, nil
}

// restored is a space state rebuilt from a snapshot.
type restored struct {
	key  string
	idx  index.Index
	revs map[string]revState
	seq  uint64
}

// restoreSpace loads the newest usable snapshot of def. Snapshots that
// are corrupt or belong to another incarnation of the stream are logged
// and skipped; it returns nil (and the number skipped) when none is
// usable. Only a cancelled ctx is an error.
func (r *Ranker) restoreSpace(ctx context.Context, def spaces.Space, info *jetstream.StreamInfo) (*restored, int, error) {
	st := r.cfg.snap.store
	log := r.cfg.logger.With("space", def.Name)
	list, _, err := listSnapshots(ctx, st, def.Name)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		log.Error("cannot list snapshots; replaying the embedding stream", "err", err)
		return nil, 0, nil
	}
	skipped := 0
	for _, n := range list {
		start := time.Now()
		res, err := loadSnapshot(ctx, st, def, n, info)
		if err == nil {
			log.Info("snapshot loaded", "key", n.base, "seq", res.seq, "vectors", res.idx.Len(), "took", time.Since(start).Round(time.Millisecond))
			return res, skipped, nil
		}
		if ctx.Err() != nil {
			return nil, skipped, ctx.Err()
		}
		skipped++
		log.Warn("skipping snapshot", "key", n.base, "err", err)
	}
	if len(list) > 0 {
		log.Warn("no usable snapshot; replaying the embedding stream", "skipped", skipped)
	}
	return nil, skipped, nil
}

func corruptSnap(key, format string, args ...any) error {
	return fmt.Errorf("snapshot %s: %w: %s", key, ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}

// fetchChecked gets key and checks its size and SHA-256.
func fetchChecked(ctx context.Context, st SnapshotStore, key string, size int64, checksum string) ([]byte, error) {
	if size <= 0 || size > maxSnapshotSize {
		return nil, corruptSnap(key, "size %d out of range", size)
	}
	data, err := st.GetObject(ctx, key, size)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrTooLarge) {
			return nil, corruptSnap(key, "%v", err)
		}
		return nil, fmt.Errorf("get snapshot %s: %w", key, err)
	}
	if int64(len(data)) != size {
		return nil, corruptSnap(key, "%d bytes, manifest says %d", len(data), size)
	}
	if got := sha256Sum(data); got != checksum {
		return nil, corruptSnap(key, "checksum %s, manifest says %s", got, checksum)
	}
	return data, nil
}

func sha256Sum(p []byte) string {
	h := sha256.Sum256(p)
	return "sha256:" + hex.EncodeToString(h[:])
}

// loadSnapshot reads and checks one snapshot.
func loadSnapshot(ctx context.Context, st SnapshotStore, def spaces.Space, n snapName, info *jetstream.StreamInfo) (*restored, error) {
	mkey := n.base + snapManifestExt
	raw, err := st.GetObject(ctx, mkey, maxManifest)
	if err != nil {
		return nil, fmt.Errorf("get snapshot manifest %s: %w", mkey, err)
	}
	var m snapshotManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, corruptSnap(mkey, "decode manifest: %v", err)
	}
	switch {
	case m.Format != snapFormat:
		return nil, corruptSnap(mkey, "format %d, want %d", m.Format, snapFormat)
	case m.Space != def.Name || m.Seq != n.seq:
		return nil, corruptSnap(mkey, "manifest names space %q seq %d", m.Space, m.Seq)
	case m.Dim != def.Dim():
		return nil, corruptSnap(mkey, "dim %d, space has %d", m.Dim, def.Dim())
	case !m.StreamCreated.Equal(info.Created):
		return nil, corruptSnap(mkey, "taken from stream %s created %v, the stream now was created %v",
			info.Config.Name, m.StreamCreated, info.Created)
	case m.Seq > info.State.LastSeq:
		return nil, corruptSnap(mkey, "seq %d is past the stream's last sequence %d", m.Seq, info.State.LastSeq)
	case m.Count < 0 || m.Revisions < m.Count:
		return nil, corruptSnap(mkey, "count %d, revisions %d", m.Count, m.Revisions)
	}
	idx, err := loadIndex(ctx, st, n.base+snapIdxExt, m)
	if err != nil {
		return nil, err
	}
	rdata, err := fetchChecked(ctx, st, n.base+snapRevsExt, m.RevisionsSize, m.RevisionsChecksum)
	if err != nil {
		return nil, err
	}
	revs, err := decodeRevs(rdata)
	if err != nil {
		return nil, corruptSnap(n.base+snapRevsExt, "%v", err)
	}
	live := 0
	for _, rv := range revs {
		if !rv.deleted {
			live++
		}
	}
	if len(revs) != m.Revisions || live != m.Count {
		return nil, corruptSnap(n.base+snapRevsExt, "%d revisions (%d live), manifest says %d (%d live)", len(revs), live, m.Revisions, m.Count)
	}
	return &restored{key: n.base, idx: idx, revs: revs, seq: m.Seq}, nil
}

// loadIndex fetches, checks and loads the index object of a snapshot.
func loadIndex(ctx context.Context, st SnapshotStore, key string, m snapshotManifest) (index.Index, error) {
	data, err := fetchChecked(ctx, st, key, m.Size, m.Checksum)
	if err != nil {
		return nil, err
	}
	idx, err := index.Load(bytes.NewReader(data))
	if err != nil {
		return nil, corruptSnap(key, "%v", err)
	}
	if idx.Dim() != m.Dim || idx.Len() != m.Count {
		return nil, corruptSnap(key, "index has %d vectors of dim %d, manifest says %d of %d", idx.Len(), idx.Dim(), m.Count, m.Dim)
	}
	return idx, nil
}

// encodeRevs writes the revision map: magic, count, then per product
// (sorted by id) id length u16, id, revision u64, deleted u8.
func encodeRevs(revs map[string]revState) []byte {
	ids := make([]string, 0, len(revs))
	size := len(revsMagic) + 8
	for id := range revs {
		ids = append(ids, id)
		size += 2 + len(id) + 9
	}
	slices.Sort(ids)
	b := make([]byte, 0, size)
	b = append(b, revsMagic...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ids)))
	for _, id := range ids {
		rv := revs[id]
		b = binary.LittleEndian.AppendUint16(b, uint16(len(id)))
		b = append(b, id...)
		b = binary.LittleEndian.AppendUint64(b, rv.revision)
		del := byte(0)
		if rv.deleted {
			del = 1
		}
		b = append(b, del)
	}
	return b
}

// decodeRevs parses what encodeRevs wrote.
func decodeRevs(b []byte) (map[string]revState, error) {
	if len(b) < len(revsMagic)+8 || string(b[:len(revsMagic)]) != revsMagic {
		return nil, errors.New("bad revisions header")
	}
	b = b[len(revsMagic):]
	n := binary.LittleEndian.Uint64(b)
	b = b[8:]
	if n > uint64(len(b))/11 {
		return nil, fmt.Errorf("%d revisions cannot fit in %d bytes", n, len(b))
	}
	revs := make(map[string]revState, n)
	for i := uint64(0); i < n; i++ {
		if len(b) < 2 {
			return nil, errors.New("truncated revisions")
		}
		l := int(binary.LittleEndian.Uint16(b))
		if l == 0 || len(b) < 2+l+9 {
			return nil, fmt.Errorf("revision %d: empty or truncated id", i)
		}
		id := string(b[2 : 2+l])
		if _, dup := revs[id]; dup {
			return nil, fmt.Errorf("revision %d: duplicate id %q", i, id)
		}
		rev := binary.LittleEndian.Uint64(b[2+l:])
		switch b[2+l+8] {
		case 0:
			revs[id] = revState{revision: rev}
		case 1:
			revs[id] = revState{revision: rev, deleted: true}
		default:
			return nil, fmt.Errorf("revision %d: bad deleted flag %d", i, b[2+l+8])
		}
		b = b[2+l+9:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(b))
	}
	return revs, nil
}

// Snapshot writes a snapshot of every followed space that is caught up
// and changed since its last snapshot. It returns the keys written (base
// names, without extension). The periodic writer and Close call it; it is
// exported for admin calls and tests. Without WithSnapshots it does
// nothing.
func (r *Ranker) Snapshot(ctx context.Context) ([]string, error) {
	if r.cfg.snap.store == nil {
		return nil, nil
	}
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	r.mu.RLock()
	list := make([]*spaceState, 0, len(r.spaces))
	for _, s := range r.spaces {
		list = append(list, s)
	}
	r.mu.RUnlock()
	slices.SortFunc(list, func(a, b *spaceState) int { return strings.Compare(a.def.Name, b.def.Name) })
	var (
		keys []string
		errs []error
	)
	for _, s := range list {
		key, err := r.snapshotSpace(ctx, s)
		if err != nil {
			s.snap.failed.Add(1)
			errs = append(errs, err)
			continue
		}
		if key != "" {
			keys = append(keys, key)
		}
	}
	return keys, errors.Join(errs...)
}

// snapshotSpace writes one space's snapshot if it changed; it returns the
// base key written, or "" when there was nothing to write.
func (r *Ranker) snapshotSpace(ctx context.Context, s *spaceState) (string, error) {
	if !s.ready.Load() {
		return "", nil
	}
	tmp, err := os.CreateTemp(r.cfg.snap.dir, "omnirank-snapshot-*.idx")
	if err != nil {
		return "", fmt.Errorf("snapshot space %s: %w", s.def.Name, err)
	}
	defer func() {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
	}()
	// Hold the space's lock while copying revisions and saving the index:
	// the follower waits, so both reflect exactly the messages up to seq.
	s.mu.RLock()
	seq := s.seq
	if seq == 0 || seq == s.snap.saved.Load() {
		s.mu.RUnlock()
		return "", nil
	}
	revs := encodeRevs(s.revs)
	nrevs := len(s.revs)
	count := s.idx.Len()
	h := sha256.New()
	held := time.Now()
	err = s.idx.Save(io.MultiWriter(tmp, h))
	s.mu.RUnlock()
	pause := time.Since(held)
	s.snap.pause.Store(int64(pause))
	if err != nil {
		return "", fmt.Errorf("snapshot space %s: %w", s.def.Name, err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return "", fmt.Errorf("snapshot space %s: %w", s.def.Name, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("snapshot space %s: %w", s.def.Name, err)
	}
	now := time.Now()
	base := fmt.Sprintf("%s%d-%d", snapshotPrefix(s.def.Name), now.UnixMilli(), seq)
	m := snapshotManifest{
		Format: snapFormat, Space: s.def.Name, Seq: seq, Count: count, Dim: s.def.Dim(), Created: now.UTC(),
		Checksum: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: size,
		Revisions: nrevs, RevisionsChecksum: sha256Sum(revs), RevisionsSize: int64(len(revs)),
		StreamCreated: s.snap.streamAt,
	}
	mdata, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", fmt.Errorf("snapshot space %s: %w", s.def.Name, err)
	}
	st := r.cfg.snap.store
	if err := st.PutStream(ctx, base+snapIdxExt, tmp, size, "application/octet-stream"); err != nil {
		return "", fmt.Errorf("snapshot space %s: put index: %w", s.def.Name, err)
	}
	if err := st.PutStream(ctx, base+snapRevsExt, bytes.NewReader(revs), int64(len(revs)), "application/octet-stream"); err != nil {
		return "", fmt.Errorf("snapshot space %s: put revisions: %w", s.def.Name, err)
	}
	// The manifest goes last: until it exists the snapshot is incomplete.
	if err := st.PutStream(ctx, base+snapManifestExt, bytes.NewReader(mdata), int64(len(mdata)), "application/json"); err != nil {
		return "", fmt.Errorf("snapshot space %s: put manifest: %w", s.def.Name, err)
	}
	s.snap.saved.Store(seq)
	s.snap.written.Add(1)
	s.log.Info("snapshot written", "key", base, "seq", seq, "vectors", count, "bytes", size,
		"index_paused", pause.Round(time.Millisecond), "took", time.Since(held).Round(time.Millisecond))
	if err := r.pruneSnapshots(ctx, s.def.Name); err != nil {
		s.log.Warn("cannot prune old snapshots", "err", err)
	}
	return base, nil
}

// pruneSnapshots keeps the newest complete snapshots of a space and
// deletes the rest, and incomplete ones older than the oldest kept (newer
// incomplete ones may be another replica's upload in progress).
func (r *Ranker) pruneSnapshots(ctx context.Context, space string) error {
	st := r.cfg.snap.store
	complete, partial, err := listSnapshots(ctx, st, space)
	if err != nil {
		return err
	}
	keep := r.cfg.snap.keep
	if len(complete) <= keep && len(partial) == 0 {
		return nil
	}
	var drop []snapName
	if len(complete) > keep {
		drop = append(drop, complete[keep:]...)
	}
	if len(complete) > 0 {
		oldest := complete[min(keep, len(complete))-1]
		for _, p := range partial {
			if newestFirst(p, oldest) > 0 {
				drop = append(drop, p)
			}
		}
	}
	var errs []error
	for _, n := range drop {
		// Manifest first, so that a half-deleted snapshot is never loaded.
		for _, ext := range []string{snapManifestExt, snapIdxExt, snapRevsExt} {
			if err := st.DeleteObject(ctx, n.base+ext); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// snapshotLoop writes snapshots every interval until ctx ends.
func (r *Ranker) snapshotLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.snap.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.Snapshot(ctx); err != nil && ctx.Err() == nil {
				r.cfg.logger.Error("snapshot failed", "err", err)
			}
		}
	}
}
