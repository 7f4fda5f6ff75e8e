// Package eval owns offline ranking evaluation: the ranking metrics
// (Recall@k, NDCG@k, MRR@k, HitRate@k) as pure functions, the labelled
// query file (JSONL) and its validation, a runner that asks RankerService
// over gRPC as any client would, the aggregate Result (per query kind and
// overall) with its JSON form, a side-by-side comparison of two Results
// with the overlap of their top-k lists, and the plain-text tables the
// command prints.
//
// It is a client library: it imports the public API (proto/omnirank/v1)
// and no role package, so `omnirank eval`, `omnirank campaign evaluate`
// and offline reports share one implementation of every metric.
//
// # Metrics
//
// Every metric takes the ranked ids a query returned, the relevant ids
// (most relevant first) and k, and returns a value in [0, 1]:
//
//   - Recall@k: relevant ids in the top k / number of relevant ids.
//   - HitRate@k: 1 if any relevant id is in the top k, else 0.
//   - MRR@k: 1 / rank of the first relevant id in the top k, 0 if none.
//   - NDCG@k: DCG of the top k / DCG of the ideal ranking, with
//     DCG = Σ gain(id) / log2(rank + 1) over ranks 1..k.
//
// NDCG's gain is graded by the position of an id in the relevant list: of
// n relevant ids, the i-th (0-based) has gain n − i, so the most relevant
// earns n and the least 1. The query file gives an order, not grades; a
// linear grade keeps every listed product's gain positive, makes the ideal
// ranking exactly the listed order, and with a single relevant id reduces
// NDCG to the usual binary form (1 / log2(rank + 1)). An exponential gain
// (2^grade − 1) would let the first of a long list outweigh all the others.
//
// Edge cases, the same for every metric: k ≤ 0 or an empty relevant list
// gives 0 (the query file rejects empty relevant lists, so they never
// reach an aggregate); fewer than k results are scored as they are (the
// ideal ranking still counts min(k, n) relevant ids, so a short list is
// not rewarded); an id repeated in the results earns nothing after its
// first occurrence but still takes its slot, because a client was shown
// it there; repeats in the relevant list count once, at their first
// position.
package eval
