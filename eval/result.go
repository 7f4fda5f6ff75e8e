package eval

import (
	"errors"
	"fmt"
)

// Result is an evaluation of one space on one query file. Its JSON is the
// format `omnirank eval --json` prints:
//
//	{"space", "k", "queries", "failed", "by_kind": {kind: Aggregate}, "all": Aggregate, "per_query"?}
//
// queries counts the file's queries; failed those the ranker did not
// answer (they count in no mean, and their errors are in PerQuery).
type Result struct {
	Space   string             `json:"space"`
	K       int                `json:"k"`
	Queries int                `json:"queries"`
	Failed  int                `json:"failed"`
	ByKind  map[Kind]Aggregate `json:"by_kind"`
	All     Aggregate          `json:"all"`
	// Speech scores the transcripts of spoken queries (issue 16); absent
	// when no answer carried one.
	Speech   *SpeechScores `json:"speech,omitempty"`
	PerQuery []QueryResult `json:"per_query,omitempty"`
}

// SpeechScores measures what the recogniser heard in the answered spoken
// queries. WER is the corpus word error rate over the queries with a
// reference (Query.Said): the sum of word edits (substitutions, deletions,
// insertions) over the sum of reference words. Empty counts transcripts
// with no words.
type SpeechScores struct {
	Transcribed int     `json:"transcribed"`
	WithSaid    int     `json:"with_said"`
	WER         float64 `json:"wer"`
	Empty       int     `json:"empty"`
}

// Aggregate is the mean of each metric over the N answered queries of a
// group.
type Aggregate struct {
	N      int     `json:"n"`
	Recall float64 `json:"recall_at_k"`
	NDCG   float64 `json:"ndcg_at_k"`
	MRR    float64 `json:"mrr_at_k"`
	// Failed counts the group's unanswered queries; Result.Failed and
	// PerQuery carry it in JSON.
	Failed int `json:"-"`
}

// QueryResult is one query's outcome: the ids the ranker returned and
// their scores, or the error that made it fail.
type QueryResult struct {
	ID     string   `json:"id"`
	Kind   Kind     `json:"kind"`
	Ranked []string `json:"ranked"`
	Scores
	// Heard is the transcript of a spoken query (nil when the answer had
	// none); WordErrors and SaidWords its edits against Query.Said.
	Heard      *string `json:"heard,omitempty"`
	WordErrors int     `json:"word_errors,omitempty"`
	SaidWords  int     `json:"said_words,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// Failed says whether the query went unanswered.
func (q QueryResult) Failed() bool { return q.Error != "" }

// Summarise aggregates per-query outcomes into a Result: the mean of each
// metric per kind and over all answered queries. Every kind present in
// perQuery gets an entry, even one whose queries all failed (N 0).
func Summarise(space string, k int, perQuery []QueryResult) Result {
	res := Result{Space: space, K: k, Queries: len(perQuery), ByKind: map[Kind]Aggregate{}, PerQuery: perQuery}
	type sums struct {
		agg               Aggregate
		recall, ndcg, mrr float64
	}
	byKind := map[Kind]*sums{}
	var all sums
	for _, q := range perQuery {
		s := byKind[q.Kind]
		if s == nil {
			s = &sums{}
			byKind[q.Kind] = s
		}
		for _, g := range []*sums{s, &all} {
			if q.Failed() {
				g.agg.Failed++
				continue
			}
			g.agg.N++
			g.recall += q.Recall
			g.ndcg += q.NDCG
			g.mrr += q.MRR
		}
	}
	mean := func(s *sums) Aggregate {
		a := s.agg
		if a.N > 0 {
			n := float64(a.N)
			a.Recall, a.NDCG, a.MRR = s.recall/n, s.ndcg/n, s.mrr/n
		}
		return a
	}
	for kind, s := range byKind {
		res.ByKind[kind] = mean(s)
	}
	res.All = mean(&all)
	res.Failed = res.All.Failed
	res.Speech = speechScores(perQuery)
	return res
}

// speechScores sums the transcripts of perQuery; nil when there are none.
func speechScores(perQuery []QueryResult) *SpeechScores {
	var s SpeechScores
	edits, words := 0, 0
	for _, q := range perQuery {
		if q.Failed() || q.Heard == nil {
			continue
		}
		s.Transcribed++
		if *q.Heard == "" {
			s.Empty++
		}
		if q.SaidWords > 0 {
			s.WithSaid++
			edits += q.WordErrors
			words += q.SaidWords
		}
	}
	if s.Transcribed == 0 {
		return nil
	}
	if words > 0 {
		s.WER = float64(edits) / float64(words)
	}
	return &s
}

// Comparison sets two evaluations of the same query file side by side
// (the active space and a campaign's space, say) with how much their top
// k lists agree.
//
// Overlap is the mean over the queries both answered of |A ∩ B| / k',
// where A and B are the two top-k lists without repeats and k' is the
// length of the longer one (k when the catalogue fills both lists): the
// share of the top k the two spaces agree on, regardless of order; two
// empty lists agree fully. It is not Jaccard, which would divide by
// |A ∪ B| and make half-shared lists score 1/3 instead of 1/2.
type Comparison struct {
	K        int     `json:"k"`
	A        Result  `json:"a"`
	B        Result  `json:"b"`
	Overlap  float64 `json:"overlap_at_k"`
	Compared int     `json:"overlap_queries"`
}

// ErrNotComparable is returned by Compare for Results of different k or
// query sets, or without per-query outcomes.
var ErrNotComparable = errors.New("evaluations not comparable")

// Compare sets a and b side by side. Both must come from the same query
// file at the same k and carry PerQuery.
func Compare(a, b Result) (Comparison, error) {
	if a.K != b.K {
		return Comparison{}, fmt.Errorf("%w: k %d and %d", ErrNotComparable, a.K, b.K)
	}
	if len(a.PerQuery) != a.Queries || len(b.PerQuery) != b.Queries {
		return Comparison{}, fmt.Errorf("%w: per-query outcomes missing", ErrNotComparable)
	}
	if a.Queries != b.Queries {
		return Comparison{}, fmt.Errorf("%w: %d and %d queries", ErrNotComparable, a.Queries, b.Queries)
	}
	bByID := make(map[string]QueryResult, len(b.PerQuery))
	for _, q := range b.PerQuery {
		bByID[q.ID] = q
	}
	c := Comparison{K: a.K, A: a, B: b}
	var sum float64
	for _, qa := range a.PerQuery {
		qb, ok := bByID[qa.ID]
		if !ok {
			return Comparison{}, fmt.Errorf("%w: query %q only in the first", ErrNotComparable, qa.ID)
		}
		if qa.Failed() || qb.Failed() {
			continue
		}
		sum += Overlap(qa.Ranked, qb.Ranked, a.K)
		c.Compared++
	}
	if c.Compared > 0 {
		c.Overlap = sum / float64(c.Compared)
	}
	return c, nil
}

// Overlap is |A ∩ B| / k' of the top k of two ranked lists (see
// Comparison); 0 for k ≤ 0.
func Overlap(a, b []string, k int) float64 {
	if k <= 0 {
		return 0
	}
	top := func(ids []string) map[string]bool {
		set := make(map[string]bool, min(k, len(ids)))
		for _, id := range ids[:min(k, len(ids))] {
			set[id] = true
		}
		return set
	}
	sa, sb := top(a), top(b)
	longer := max(len(sa), len(sb))
	if longer == 0 {
		return 1
	}
	shared := 0
	for id := range sa {
		if sb[id] {
			shared++
		}
	}
	return float64(shared) / float64(longer)
}
