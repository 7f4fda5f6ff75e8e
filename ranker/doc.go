// Package ranker owns retrieval and ranking: it follows the catalogue (the
// products KV bucket), the joint embeddings of every embedding space (the
// emb.<space>.<product> subjects) and user feedback (feedback.<kind>) into
// memory, and serves the gRPC RankerService and FeedbackService.
//
// # Data it follows
//
//   - Catalogue view: an ordered consumer over the products bucket's
//     stream (the last record of every key, then updates and deletes),
//     kept as id → Item for filters and responses. The same consumer feeds
//     the lexical index (package ranker/lexical): every record applied is
//     put, every delete removed, in the catalogue's order, batched by the
//     index. It is not snapshotted: the catalogue's replay at start
//     rebuilds it, and the catalogue counts as ready once the index holds
//     its initial load.
//   - One embedding follower per space: an ordered consumer over
//     emb.<space>.> delivering the last message per subject, upserting into
//     an in-memory ANN index (package ranker/index). Tombstones delete; an
//     embedding whose revision is older than the one already applied for
//     the product is ignored. A space is ready once it has applied every
//     message that existed when its follower started.
//   - Feedback: an ordered consumer replaying feedback.> from the start of
//     the stream. Each replica replays the whole stream, so every replica
//     holds complete per-user histories, popularity and co-occurrence; a
//     shared durable consumer would split events between replicas and leave
//     each with a partial view. The Record RPC only publishes events; memory
//     changes when the follower reads them back, so every replica (and the
//     one that took the call) learns from the same ordered log.
//     Record refuses events dated beyond the clock skew or the retention
//     and calls over the per-user or per-client token bucket; the follower
//     skips untrusted events already in the stream and caps one user's
//     contribution per product and window (WithUserContributionCap). A user
//     forgotten through the forgotten bucket (ForgetUser) is dropped at
//     once and the store rebuilt from the purged stream without them
//     (docs/FEEDBACK.md).
//   - Impressions (WithImpressions): a sample of Recommend responses, with
//     the shown products, positions and scorer features, is published in
//     the background to the IMPRESSIONS stream under the response's
//     request_id, which feedback events carry back.
//
// # Snapshots
//
// With WithSnapshots, each space's index is written to the bucket every
// interval (only when it changed) and on Close, as three objects under
// snapshots/<space>/<unix-ms>-<seq>: .idx (index.Index.Save), .revs (the
// revision applied for every product, tombstones included, so that older
// revisions stay ignored after a restart) and .json (the manifest: space,
// seq, count, dim, created, SHA-256 checksums, the EMB stream's creation
// time), uploaded last so that a snapshot without one is never read. seq
// is the highest EMB stream sequence the space had handled when its index
// and revisions were copied, with the follower paused so the three agree.
// The newest three are kept (WithSnapshotRetention).
//
// At start a space loads its newest usable snapshot (a corrupt one, or one
// of an earlier incarnation of the stream, is logged and skipped, then the
// previous one, then none) and its ordered consumer starts at seq+1
// instead of at every subject's last message. That is complete because the
// stream keeps one message per subject: a product changed after the
// snapshot has its current message after seq, and one not changed since
// is in the snapshot. Updates, tombstones and stale revisions after seq
// go through the same apply as live messages.
//
// Space definitions and the "active" alias are watched in the spaces
// bucket: a new space starts a follower, a moved alias changes the default
// space of the next request.
//
// # Ranking
//
// A request's inputs become one query vector: text, image and audio are
// encoded by the models of the space's blocks and joined with
// spaces.Space.Join; positive products add the mean of their vectors,
// negatives subtract a weighted mean, and a user id adds the user's profile
// (a time-decayed, kind-weighted mean of the vectors of the products they
// interacted with, the events of their latest session — within the session
// window of their newest — weighted WithSessionBoost times more).
// Candidates come from the index with the request's filter;
// each candidate gets features (cosine split per modality block,
// co-occurrence with the user's recent items and the positives, next item:
// how often shoppers went on to it after the positives or the user's
// session items, popularity, freshness), a Scorer turns them into a score, MMR optionally diversifies
// the list, and an opaque page token carries the offset.
//
// # Hybrid retrieval
//
// A request with query text and a lexical share w > 0 (lexical_weight,
// default DefaultLexicalWeight; 0 without a lexical index) takes the pool
// from both indexes: the vector search as above (skipped when w = 1) and
// the lexical index's BM25 search of the text, with the same filter and
// exclusions and only products the space has a vector for. Every
// candidate gets a vector rank (one the vector index missed is placed by
// its own vector score) and, when the lexical side found it, a lexical
// rank. RRF (the default) scores (k+1)·((1−w)/(k+vector rank) +
// w/(k+lexical rank)) with k = 60; NORMALIZED scores (1−w)·v + w·l over
// min-max normalised vector and BM25 scores. Both are at most 1, so MMR's
// λ means the same as for vector rankings. w = 0 is the vector path itself;
// w = 1 orders by the lexical list alone. A fused list depends on where
// its two lists are cut, so every page of a hybrid ranking cuts them at
// the first page's pool (carried in the page token) and pages continue one
// ranking, as with Elasticsearch's rank_window_size; the best pool of the
// fused list is what MMR and the pages draw from. Explanations add
// "lexical:bm25" (the BM25 score, 0 when the lexical side missed the
// product) and "fusion:vector" and "fusion:lexical", which sum to the
// score; the modality and feature parts explain the vector side's score.
// WithQueryExpander plugs query expansion (synonyms) into the lexical side.
//
// The search filter runs for every graph node a filtered search visits, so
// the catalogue is sharded (64 independently locked maps, no lock shared
// by every search) and each entry keeps the fields filters test inline,
// with category paths encoded so that a category prefix is a byte prefix
// and interned; the compiled filter is one lookup and a few comparisons.
// Results are checked against the filter again after the search, since
// the catalogue may change while it runs.
//
// # Overload
//
// At most WithMaxInFlight Recommend requests work at once (default four
// per CPU). Another waits for a slot at most WithQueueWait and never past
// its deadline, then fails with ResourceExhausted, or DeadlineExceeded when
// its deadline ended; Stats and omnirank_ranker_shed_total (WithMetrics)
// count them. The excess is answered at once instead of every request
// waiting out a growing queue until its deadline.
//
// Cross-modal rule (not yet wired): where a space marks two blocks as
// sharing a model family (a CLIP text tower and image tower), a text query
// should fill the image block too. spaces.Block has no such field yet; when
// it gains one, contentParts in recommend.go is the single place to copy the
// encoded text into the sibling block.
package ranker
